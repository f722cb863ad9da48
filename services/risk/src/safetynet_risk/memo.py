"""Small memos for the scoring hot path: values worked out once per policy object, and bounded maps of
immutable results that repeat (emptied whole when full)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

Value = TypeVar("Value")
POLICIES_KEPT = 4  # a policy reload leaves the old object behind; a few are plenty


def per_policy(memo: list[tuple[object, Value]], policy: object, build: Callable[[], Value]) -> Value:
    """What `build` made for this policy object (by identity: policies are not hashable); the newest first,
    as it is nearly always the one asked for."""
    for known, value in reversed(memo):
        if known is policy:
            return value
    value = build()
    memo[:] = [*memo[-(POLICIES_KEPT - 1) :], (policy, value)]
    return value


def remembered(memo: dict[Hashable, Value], key: Hashable, build: Callable[[], Value], limit: int) -> Value:
    """`memo[key]`, built on first use; the memo is emptied when it reaches `limit` entries."""
    value = memo.get(key)
    if value is None:
        if len(memo) >= limit:
            memo.clear()
        value = memo[key] = build()
    return value

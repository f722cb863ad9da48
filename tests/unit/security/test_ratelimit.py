"""The per-client token bucket: bursts, refill, per-key isolation, 429 shape, and its cost."""

from __future__ import annotations

import timeit

import pytest

from safetynet_core.errors import ApiError
from safetynet_core.ratelimit import TokenBucketLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_rate() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.retry_after("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.retry_after("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.retry_after("a") == 0.0
    assert limiter.retry_after("a") > 0
    clock.now += 100  # refill is capped at the burst
    assert [limiter.retry_after("a") for _ in range(4)].count(0.0) == 3


def test_keys_have_their_own_buckets() -> None:
    limiter = TokenBucketLimiter(rate=1, burst=1, clock=Clock())
    assert limiter.retry_after("a") == 0.0
    assert limiter.retry_after("a") > 0
    assert limiter.retry_after("b") == 0.0


def test_check_raises_429_with_retry_after_in_whole_seconds() -> None:
    limiter = TokenBucketLimiter(rate=0.25, burst=1, clock=Clock())
    limiter.check("a", "test")
    with pytest.raises(ApiError) as raised:
        limiter.check("a", "test")
    assert raised.value.status == 429
    assert raised.value.headers == {"Retry-After": "4"}
    [detail] = raised.value.body["detail"]
    assert detail["type"] == "rate_limited" and detail["loc"] == ["header", "Authorization"]


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate=0, burst=1)


def test_a_check_costs_microseconds() -> None:
    limiter = TokenBucketLimiter(rate=1e9, burst=1e9)
    keys = [f"client{i}" for i in range(100)]
    runs = 100_000
    seconds = timeit.timeit(lambda: limiter.check(keys[7], "test"), number=runs)
    assert seconds / runs < 5e-6, f"{seconds / runs * 1e6:.2f} µs per check"

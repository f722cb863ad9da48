"""The cost of password checks is bounded (issue 20: every attempt cost a 64 MiB argon2 hash, an easy DoS): at
most `login_max_concurrent_hashes` run at once in a process, and past `login_max_waiting` queued attempts a
login answers 503 at once, its recorded attempt cancelled. Client addresses are counted per IPv4 address and
per IPv6 /64; the defaults are the contract's numbers."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from safetynet_core.db import Database
from safetynet_core.errors import ApiError
from safetynet_core.testing import eventually
from safetynet_workflow.auth import throttle
from safetynet_workflow.auth.throttle import Attempt, LoginGuard, address_key
from safetynet_workflow.settings import Settings


@dataclass
class FakeAttempts:
    begun: int = 0
    cancelled: list[int] = field(default_factory=list)

    async def begin(self, user: str, address: str, limits: dict[str, int], window: timedelta) -> Attempt:
        self.begun += 1
        return Attempt(self.begun, user)

    async def cancel(self, attempt: Attempt) -> None:
        self.cancelled.append(attempt.attempt_id)


class BlockingHash:
    """A password check that holds until released, recording how many run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = self.most = 0

    def __call__(self, stored_hash: str, password: str) -> bool:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.release.wait(30)
        with self.lock:
            self.running -= 1
        return False


def test_the_defaults_are_the_contracts_numbers() -> None:
    settings = Settings()
    assert (settings.login_max_failures_per_user, settings.login_max_failures_per_address) == (5, 50)
    assert settings.login_failure_window_seconds == 15 * 60


def test_addresses_are_counted_per_ipv4_address_and_ipv6_network() -> None:
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key(None) == address_key("not an address") == "unknown"


async def test_hashes_run_at_most_n_at_once_and_a_long_queue_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    blocking = BlockingHash()
    monkeypatch.setattr(throttle, "verify_secret", blocking)
    settings = Settings(login_max_concurrent_hashes=2, login_max_waiting=5)
    guard = LoginGuard(Database(settings, "unused"), settings)
    attempts = FakeAttempts()
    guard.attempts = attempts  # type: ignore[assignment]
    checks: list[asyncio.Task[Any]] = [
        asyncio.create_task(guard.check_password(f"u{n}", "198.51.100.1", "$argon2id$stored", "pw")) for n in range(5)
    ]

    async def two_running() -> bool:
        return blocking.running == 2

    await eventually(two_running, timeout=10, message="two checks hashing")
    with pytest.raises(ApiError) as busy:  # five already waiting or hashing
        await guard.check_password("late", "198.51.100.1", "$argon2id$stored", "pw")
    assert busy.value.status == 503 and busy.value.headers == {"Retry-After": "1"}
    assert attempts.cancelled == [6]  # the refused attempt does not count as a failure
    blocking.release.set()
    assert await asyncio.gather(*checks) == [False] * 5
    assert blocking.most == 2

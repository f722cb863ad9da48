"""Login throttling (CONTRACT.md, Security) and the cost of a password check.

Every password check is recorded in the database *before* it runs, counted against its username and its
client address; a successful check removes its record and the username's earlier failures. So the counts
hold across every workflow process, concurrent attempts count each other (an advisory lock per username and
per address makes the check-and-record atomic), and a refused attempt costs no argon2 hash at all. An
unknown (or deactivated) username is checked against a dummy hash of the same parameters, so it costs what
a known one costs; at most `login_max_concurrent_hashes` hashes run at once in a process."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select

from safetynet_core.auth import hash_secret, verify_secret
from safetynet_core.db import Database
from safetynet_core.errors import ApiError
from safetynet_workflow.settings import Settings
from safetynet_workflow.tables import login_attempts

IPV6_NETWORK_BITS = 64  # one IPv6 client holds a whole /64: count the network, not the address
CLEANUP_BATCH = 1000  # expired attempts deleted per login at most


@functools.cache
def dummy_hash() -> str:
    """An argon2 hash of a random password, with the parameters of real ones (checked for unknown users)."""
    return hash_secret(secrets.token_urlsafe(24))


def user_key(username: str) -> str:
    """What a username's failures are counted under (a digest: a password typed into the username field is
    not stored)."""
    return hashlib.sha256(username.encode()).hexdigest()


def address_key(address: str | None) -> str:
    """A client address as counted: IPv4 as it is, IPv6 by its /64 network."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/{IPV6_NETWORK_BITS}", strict=False))
    return str(ip)


def _matches(stored_hash: str | None, password: str) -> bool:
    return verify_secret(stored_hash or dummy_hash(), password)


@dataclass(frozen=True)
class Attempt:
    """A password check about to run (recorded as a failure until it succeeds)."""

    attempt_id: int
    user_key: str


def expired(since: datetime) -> Any:
    """Attempts that left the window, which no concurrent login is deleting (locked rows are skipped: nobody
    waits for a clean-up, and two clean-ups never deadlock)."""
    old = select(login_attempts.c.attempt_id).where(login_attempts.c.at < since)
    return old.limit(CLEANUP_BATCH).with_for_update(skip_locked=True)


def throttled(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "too many failed logins: try again later",
        ["body", "username"],
        "rate_limited",
        headers={"Retry-After": str(retry_after)},
    )


class LoginAttempts:
    """The recorded password checks (the `login_attempts` table)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def begin(self, user: str, address: str, limits: dict[str, int], window: timedelta) -> Attempt:
        """Record a check for `user` from `address`, or raise 429 when either has `limits[...]` failures in
        the window (Retry-After: until the oldest of those leaves it)."""
        now = datetime.now(UTC)
        since = now - window
        async with self.db.unit_of_work() as uow:
            for kind, key in (("user", user), ("address", address)):  # always in this order: no deadlock
                await uow.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"login:{kind}:{key}", 0))))
            await uow.execute(delete(login_attempts).where(login_attempts.c.attempt_id.in_(expired(since))))
            waits = []
            for column, key, limit in (
                (login_attempts.c.user_key, user, limits["user"]),
                (login_attempts.c.address_key, address, limits["address"]),
            ):
                recent = await uow.execute(
                    select(login_attempts.c.at)
                    .where(column == key, login_attempts.c.at >= since)
                    .order_by(login_attempts.c.at.desc())
                    .limit(limit)
                )
                times = [row.at for row in recent]
                if len(times) >= limit:
                    waits.append((times[-1] + window - now).total_seconds())
            if waits:
                raise throttled(max(1, math.ceil(max(waits))))
            attempt_id = await uow.execute(
                insert(login_attempts)
                .values(user_key=user, address_key=address, at=now)
                .returning(login_attempts.c.attempt_id)
            )
            attempt = Attempt(int(attempt_id.scalar_one()), user)
            await uow.commit()
        return attempt

    async def succeeded(self, attempt: Attempt) -> None:
        """The check passed: neither it nor the username's earlier failures count any more."""
        await self._delete(
            or_(login_attempts.c.attempt_id == attempt.attempt_id, login_attempts.c.user_key == attempt.user_key)
        )

    async def cancel(self, attempt: Attempt) -> None:
        """The check did not run (the process was too busy): it counts for nothing."""
        await self._delete(login_attempts.c.attempt_id == attempt.attempt_id)

    async def _delete(self, condition: object) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.execute(delete(login_attempts).where(condition))  # type: ignore[arg-type]
            await uow.commit()


class LoginGuard:
    """Throttles password checks and bounds what they cost (one per login: the user's hash or the dummy)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.attempts = LoginAttempts(db)
        self.limits = {"user": settings.login_max_failures_per_user, "address": settings.login_max_failures_per_address}
        self.window = timedelta(seconds=settings.login_failure_window_seconds)
        self.max_waiting = settings.login_max_waiting
        self._hashing = asyncio.Semaphore(settings.login_max_concurrent_hashes)
        self._waiting = 0

    async def check_password(self, username: str, address: str | None, stored_hash: str | None, password: str) -> bool:
        """Whether `password` matches `stored_hash` (None: an unknown user, checked against the dummy hash at the
        same cost). Raises 429 when the username or address is throttled (before any hashing), 503 when the
        process has too many checks waiting."""
        attempt = await self.attempts.begin(user_key(username), address_key(address), self.limits, self.window)
        if self._waiting >= self.max_waiting:
            await self.attempts.cancel(attempt)
            busy = {"Retry-After": "1"}
            raise ApiError(503, "too many logins at once: try again", ["body", "username"], headers=busy)
        self._waiting += 1
        try:
            async with self._hashing:
                ok = await asyncio.to_thread(_matches, stored_hash, password)
        finally:
            self._waiting -= 1
        if ok and stored_hash is not None:
            await self.attempts.succeeded(attempt)
            return True
        return False

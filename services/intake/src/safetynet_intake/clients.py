"""API clients: creation and revocation (the admin CLI), and authentication of `snk_` keys with argon2
verified once per key and then cached for `api_key_cache_ttl` seconds."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from safetynet_core.auth import (
    AuthError,
    Department,
    VerifiedKeyCache,
    client_id_of,
    hash_secret,
    new_api_key,
    verify_secret,
)
from safetynet_core.contracts import DEPARTMENT_EVENT_TYPES, EventType

REGISTRY_DEPARTMENT = Department.RURAL_REVITALIZATION.value
REJECTION_TTL_SECONDS = 5.0
# Province, city, county, township or village: 2, 4, 6, 9 or 12 digits of the division code.
REGION_PREFIX = re.compile(r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")


@dataclass(frozen=True)
class ApiClient:
    """An authenticated department system: what it may post."""

    client_id: str
    department: str
    name: str
    event_types: frozenset[str]
    registry_write: bool
    region: str | None = None

    def covers(self, region_code: str) -> bool:
        """Whether the client may write for a household in `region_code` (an unbound client anywhere)."""
        return self.region is None or region_code.startswith(self.region)


def granted_event_types(department: str, event_types: Iterable[str] | None) -> list[str]:
    """The requested event types after checking them, or the department's natural types."""
    if department not in {d.value for d in Department}:
        raise ValueError(f"unknown department {department!r}")
    if event_types is None:
        return [t.value for t in DEPARTMENT_EVENT_TYPES[department]]
    chosen = [t.strip() for t in event_types if t.strip()]
    unknown = sorted(set(chosen) - {t.value for t in EventType})
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)}")
    return sorted(set(chosen))


async def create_client(
    conn: asyncpg.Connection,
    department: str,
    name: str,
    event_types: Iterable[str] | None = None,
    region: str | None = None,
) -> tuple[str, str]:
    """Store a new client with its hashed key, bound to `region` if given; returns (client_id, api_key).
    The key is not kept."""
    types = granted_event_types(department, event_types)
    if region is not None and not REGION_PREFIX.match(region):
        raise ValueError(f"region {region!r} is not a division code prefix (2, 4, 6, 9 or 12 digits)")
    client_id = f"c{secrets.token_hex(8)}"
    api_key = new_api_key(client_id)
    await conn.execute(
        "insert into api_clients (client_id, department, name, event_types, registry_write, key_hash,"
        " region_prefix) values ($1, $2, $3, $4, $5, $6, $7)",
        client_id,
        department,
        name,
        types,
        department == REGISTRY_DEPARTMENT,
        hash_secret(api_key),
        region,
    )
    return client_id, api_key


async def revoke_client(conn: asyncpg.Connection, client_id: str) -> bool:
    """Mark a client revoked; False when no such active client exists."""
    result = await conn.execute(
        "update api_clients set revoked_at = now() where client_id = $1 and revoked_at is null", client_id
    )
    return bool(result.endswith(" 1"))


class ClientAuthenticator:
    """Resolves an API key to its client. argon2 runs once per key per TTL (in a thread, and only once
    when many requests arrive with the same new key); revocation is seen within the TTL."""

    def __init__(self, pool: asyncpg.Pool, ttl: float) -> None:
        self._pool = pool
        self._cache = VerifiedKeyCache(ttl=ttl)
        # Wrong keys are remembered briefly too, so hammering with one bad key costs no argon2 each time.
        self._rejected = VerifiedKeyCache(ttl=min(ttl, REJECTION_TTL_SECONDS))
        self._pending: dict[str, asyncio.Future[ApiClient]] = {}

    async def authenticate(self, api_key: str) -> ApiClient:
        cached = self._cache.get(api_key)
        if isinstance(cached, ApiClient):
            return cached
        if self._rejected.get(api_key) is not None:
            raise AuthError("unknown, revoked or wrong API key")
        pending = self._pending.get(api_key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ApiClient] = asyncio.get_running_loop().create_future()
        self._pending[api_key] = future
        try:
            client = await self._verify(api_key)
            self._cache.put(api_key, client)
            future.set_result(client)
            return client
        except BaseException as exc:
            if isinstance(exc, AuthError):
                self._rejected.put(api_key, True)
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters, if any, re-raise it themselves
            raise
        finally:
            del self._pending[api_key]

    async def _verify(self, api_key: str) -> ApiClient:
        client_id = client_id_of(api_key)
        row = await self._pool.fetchrow(
            "select client_id, department, name, event_types, registry_write, key_hash, region_prefix from api_clients"
            " where client_id = $1 and revoked_at is null",
            client_id,
        )
        if row is None or not await asyncio.to_thread(verify_secret, row["key_hash"], api_key):
            raise AuthError("unknown, revoked or wrong API key")
        return ApiClient(
            client_id=row["client_id"],
            department=row["department"],
            name=row["name"],
            event_types=frozenset(row["event_types"]),
            registry_write=row["registry_write"],
            region=row["region_prefix"],
        )

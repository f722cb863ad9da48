"""What a pooled connection that the server dropped (a database restart, a failover) costs, with and without the
ping on checkout: with it nothing fails; without it (the Temporal worker, whose activities are retried) one
attempt fails, and the pool is renewed for the next."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError

from safetynet_core.db import Database
from safetynet_core.settings import CoreSettings
from safetynet_core.testing import eventually, unique

pytestmark = pytest.mark.integration


async def _drop_connections(settings: CoreSettings, application_name: str) -> None:
    """Terminate every backend of `application_name` (as a restart would), once at least one is idle."""
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:

        async def terminated() -> bool:
            count = await conn.fetchval(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = $1",
                application_name,
            )
            return bool(count)

        await eventually(terminated, timeout=10, interval=0.05, message="a pooled connection to terminate")
    finally:
        await conn.close()


@pytest.mark.parametrize("pre_ping", [True, False])
async def test_a_dropped_pooled_connection_fails_at_most_one_attempt(stack: dict[str, str], pre_ping: bool) -> None:
    settings = CoreSettings()
    schema = unique("pool").replace("-", "_")
    db = Database(settings, schema, pool_size=2, pre_ping=pre_ping)
    try:
        await db.ping()  # a connection is in the pool now
        await _drop_connections(settings, f"safetynet-{schema}")
        if pre_ping:
            await db.ping()
        else:
            with pytest.raises(DBAPIError) as failed:
                await db.ping()
            assert failed.value.connection_invalidated
        await db.ping()
        await db.ping()
    finally:
        await db.close()

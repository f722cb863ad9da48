"""The demo's accounts, written in-process the way `safetynet clients create` and `safetynet users create`
write them (each service's own functions on its own schema), so the demo starts no interpreter per account:
department API clients in intake, case-worker logins in workflow and, for the logins with an address, their
contact in notify."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from safetynet_core.auth import hash_secret
from safetynet_core.db import Database
from safetynet_core.settings import CoreSettings
from safetynet_intake.clients import create_client
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_notify.directory import upsert_recipient_async
from safetynet_notify.info import SERVICE as NOTIFY
from safetynet_workflow.auth.admin import check_account
from safetynet_workflow.auth.store import UserStore
from safetynet_workflow.info import SERVICE as WORKFLOW


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    region: str
    department: str | None = None
    email: str | None = None


async def api_clients(database_url: str, departments: list[str], name: str) -> dict[str, str]:
    """A new API client per department; their keys (shown once, stored hashed)."""
    settings = CoreSettings(database_url=database_url)
    schema = settings.db_schema or INTAKE.schema
    conn = await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": schema})
    try:
        return {d: (await create_client(conn, d, f"{name} {d}"))[1] for d in departments}
    finally:
        await conn.close()


async def logins(database_url: str, accounts: list[Account], password: str) -> None:
    """Create or update the logins (one argon2 hash of the shared demo password serves them all); the ones
    with an email address and a region become notification recipients too."""
    settings = CoreSettings(database_url=database_url)
    hashed = await asyncio.to_thread(hash_secret, password)
    workflow = Database(settings, settings.db_schema or WORKFLOW.schema, pool_size=1)
    notify = Database(settings, settings.db_schema or NOTIFY.schema, pool_size=1)
    try:
        users = UserStore(workflow)
        for a in accounts:
            check_account(a.role, a.region, a.department)
            await users.upsert_user({"username": a.username, "password_hash": hashed, "role": a.role,
                                     "region_code": a.region, "department": a.department, "email": a.email,
                                     "phone": None, "grid_id": None, "active": True})  # fmt: skip
            if a.email and a.region:  # notify resolves recipients by region (an admin has none)
                await upsert_recipient_async(notify, username=a.username, role=a.role, region=a.region,
                                             department=a.department, email=a.email)  # fmt: skip
    finally:
        await workflow.close()
        await notify.close()

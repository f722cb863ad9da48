"""The workflow schema's history is one line: a fresh database and one migrated before the two sibling
0003 revisions were put in line both upgrade to the same head."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from safetynet_core.db import migrate
from safetynet_workflow.info import SERVICE
from safetynet_workflow.settings import Settings

VERSION_TABLE = "alembic_version_safetynet_workflow"


async def _versions(settings: Settings) -> list[str]:
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        rows = await conn.fetch(f'select version_num from "{settings.db_schema}"."{VERSION_TABLE}"')
    finally:
        await conn.close()
    return sorted(r["version_num"] for r in rows)


async def test_fresh_and_existing_databases_upgrade_to_one_head(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    settings: Settings = await provision(isolated_settings(Settings), SERVICE)
    assert await _versions(settings) == ["wf0004_field_ops"]

    # What a database migrated before December 2026 recorded: two heads side by side.
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        table = f'"{settings.db_schema}"."{VERSION_TABLE}"'
        await conn.execute(f"delete from {table}")
        await conn.execute(f"insert into {table} values ('wf0003_audit'), ('wf0003_field_ops')")
    finally:
        await conn.close()
    migrate(settings, settings.db_schema or "", SERVICE.migrations_dir)
    assert await _versions(settings) == ["wf0004_field_ops"]
    migrate(settings, settings.db_schema or "", SERVICE.migrations_dir)  # and again: nothing to do
    assert await _versions(settings) == ["wf0004_field_ops"]

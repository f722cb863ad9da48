"""The workflow schema's history is one line: a fresh database and one migrated before the two sibling
0003 revisions were put in line both upgrade to the same head."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from alembic.config import Config
from alembic.script import ScriptDirectory

from safetynet_core.db import migrate
from safetynet_core.testing import drop_schema
from safetynet_workflow.info import SERVICE
from safetynet_workflow.settings import Settings

VERSION_TABLE = "alembic_version_safetynet_workflow"


def head() -> str:
    config = Config()
    config.set_main_option("script_location", str(SERVICE.migrations_dir))
    [only] = ScriptDirectory.from_config(config).get_heads()
    return only


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
    assert await _versions(settings) == [head()]

    # A database migrated before December 2026: the field-ops tables under the old sibling id, beside audit.
    existing: Settings = isolated_settings(Settings)
    schema = existing.db_schema or ""
    try:
        migrate(existing, schema, SERVICE.migrations_dir, revision="wf0004_field_ops")
        conn = await asyncpg.connect(existing.asyncpg_dsn)
        try:
            table = f'"{schema}"."{VERSION_TABLE}"'
            await conn.execute(f"delete from {table}")
            await conn.execute(f"insert into {table} values ('wf0003_audit'), ('wf0003_field_ops')")
        finally:
            await conn.close()
        migrate(existing, schema, SERVICE.migrations_dir)
        assert await _versions(existing) == [head()]
        migrate(existing, schema, SERVICE.migrations_dir)  # and again: nothing to do
        assert await _versions(existing) == [head()]
    finally:
        await drop_schema(existing.asyncpg_dsn, schema)

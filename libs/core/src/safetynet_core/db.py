"""Database access: one Postgres schema per service, an async engine, a raw asyncpg pool for bulk
paths, a unit of work that rolls back unless committed, and Alembic migrations per service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from safetynet_core.settings import CoreSettings


class Database:
    """Engine and pool bound to one service schema (via search_path)."""

    def __init__(self, settings: CoreSettings, schema: str, pool_size: int = 10, *, pre_ping: bool = True) -> None:
        """`pre_ping=False` skips the round trips that test a pooled connection on every checkout; for a process
        whose every use is retried on failure (a Temporal worker's activities), where a connection broken by a
        database restart fails one attempt, and its pool is then renewed."""
        self.settings = settings
        self.schema = schema
        self._server_settings = {"search_path": f"{schema},public", "application_name": f"safetynet-{schema}"}
        self.engine: AsyncEngine = create_async_engine(
            settings.sqlalchemy_url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=pre_ping,
            connect_args={"server_settings": self._server_settings},
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._pool: asyncpg.Pool | None = None
        self._pool_size = pool_size

    async def pool(self) -> asyncpg.Pool:
        """A raw asyncpg pool for COPY and executemany paths."""
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self.settings.asyncpg_dsn,
                min_size=1,
                max_size=self._pool_size,
                server_settings=self._server_settings,
            )
        return self._pool

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("select 1"))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        await self.engine.dispose()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self)


class UnitOfWork:
    """`async with db.unit_of_work() as uow:` ... `await uow.commit()`; anything uncommitted rolls back."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.session: AsyncSession

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._db.sessions()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def execute(self, statement: Any, params: Any = None) -> Any:
        return await self.session.execute(statement, params)


@asynccontextmanager
async def raw_transaction(db: Database) -> AsyncIterator[asyncpg.Connection]:
    pool = await db.pool()
    async with pool.acquire() as conn, conn.transaction():
        yield conn


def append_only_statements(table: str) -> list[str]:
    """SQL making `table` append-only (an audit log): triggers refuse UPDATE, DELETE and TRUNCATE with
    `insufficient_privilege`. For a migration's `op.execute`; the table name is the migration's own constant."""
    refuse = f"{table}_append_only"
    return [
        f"""create function {refuse}() returns trigger language plpgsql as $$
        begin
          raise exception '{table} is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
        end
        $$""",
        f"create trigger {table}_no_change before update or delete on {table}"
        f" for each row execute function {refuse}()",
        f"create trigger {table}_no_truncate before truncate on {table} for each statement execute function {refuse}()",
    ]


def migrate(settings: CoreSettings, schema: str, migrations_dir: Path, revision: str = "heads") -> None:
    """Create the service schema if needed and upgrade it with the service's Alembic scripts."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["safetynet_settings"] = settings
    config.attributes["safetynet_schema"] = schema
    config.attributes["safetynet_version_table"] = f"alembic_version_{migrations_dir.parent.name}"
    command.upgrade(config, revision)


def _rename_revisions(connection: Any, script: Any, schema: str, version_table: str, renamed: dict[str, str]) -> None:
    """Move a database that recorded a revision under its old id to the new id; the recorded ancestors of
    the new id (which a linear history now runs through) are dropped from the version table."""
    from sqlalchemy import inspect

    if not inspect(connection).has_table(version_table, schema=schema):
        return
    table = f'"{schema}"."{version_table}"'
    for old, new in renamed.items():
        moved = connection.execute(
            text(f"update {table} set version_num = :new where version_num = :old"),  # noqa: S608 (our names)
            {"new": new, "old": old},
        ).rowcount
        if moved:
            ancestors = [r.revision for r in script.iterate_revisions(new, "base") if r.revision != new]
            connection.execute(
                text(f"delete from {table} where version_num = any(:ancestors)"),  # noqa: S608 (our names)
                {"ancestors": ancestors},
            )
    connection.commit()


def run_alembic_env(target_metadata: Any = None, renamed_revisions: dict[str, str] | None = None) -> None:
    """Body of every service's migrations/env.py: online migrations into the service schema.
    `renamed_revisions` (old id → new id) lets a database migrated before a history was made linear
    upgrade like a fresh one."""
    from alembic import context

    from safetynet_core.service import run_sync

    config = context.config
    settings: CoreSettings = config.attributes.get("safetynet_settings") or CoreSettings()
    schema: str = config.attributes["safetynet_schema"]
    version_table = config.attributes.get("safetynet_version_table", "alembic_version")

    def run(connection: Any) -> None:
        connection.execute(text(f'create schema if not exists "{schema}"'))
        connection.execute(text(f'set search_path to "{schema}", public'))
        connection.commit()
        if renamed_revisions:
            _rename_revisions(connection, context.script, schema, version_table, renamed_revisions)
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            version_table=version_table,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(settings.sqlalchemy_url)
        async with engine.connect() as conn:
            await conn.run_sync(run)
            await conn.commit()
        await engine.dispose()

    run_sync(main())

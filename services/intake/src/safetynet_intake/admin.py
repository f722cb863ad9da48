"""`safetynet clients create|revoke`: department API clients (keys shown once, stored argon2-hashed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import typer

from safetynet_core.settings import CoreSettings
from safetynet_intake.clients import create_client, revoke_client
from safetynet_intake.info import SERVICE

T = TypeVar("T")
clients_app = typer.Typer(help="Department API clients of the intake service.", no_args_is_help=True)


def _with_connection(action: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run `action` on a connection to the intake schema (DATABASE_URL, SAFETYNET_DB_SCHEMA)."""
    settings = CoreSettings()
    schema = settings.db_schema or SERVICE.schema

    async def run() -> T:
        conn = await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": schema})
        try:
            return await action(conn)
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except asyncpg.UndefinedTableError as exc:
        typer.echo(f"error: schema {schema} has no intake tables; run `safetynet migrate` first", err=True)
        raise typer.Exit(1) from exc


@clients_app.command("create")
def create(
    department: str = typer.Option(..., help="department code, e.g. medical_insurance"),
    name: str = typer.Option(..., help="a human name for the client system"),
    event_types: str = typer.Option(None, help="comma-separated event types; default: the department's own"),
    region: str = typer.Option(None, help="bind the client to this region code prefix (writes only inside it)"),
) -> None:
    """Create a client and print {"client_id", "api_key", ...} once; only the key's hash is stored."""
    types = event_types.split(",") if event_types is not None else None
    try:
        client_id, api_key = _with_connection(lambda conn: create_client(conn, department, name, types, region))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    created = {"client_id": client_id, "api_key": api_key, "department": department, "name": name, "region": region}
    typer.echo(json.dumps(created))


@clients_app.command("revoke")
def revoke(client_id: str) -> None:
    """Revoke a client's key (running intake processes stop accepting it within api_key_cache_ttl)."""
    if not _with_connection(lambda conn: revoke_client(conn, client_id)):
        typer.echo(f"error: no active client {client_id}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps({"client_id": client_id, "revoked": True}))

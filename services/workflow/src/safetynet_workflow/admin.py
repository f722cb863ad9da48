"""`safetynet users ...`: case-worker accounts (argon2-hashed passwords) for the workflow API."""

from __future__ import annotations

import asyncio
import importlib
import json
from typing import Any

import typer

from safetynet_core.auth import Department, Role, hash_secret
from safetynet_core.db import Database
from safetynet_workflow.info import SERVICE
from safetynet_workflow.settings import Settings
from safetynet_workflow.store import Store

users_app = typer.Typer(help="Case-worker users (workflow API logins).", no_args_is_help=True)


def _check(role: str, region: str, department: str | None) -> None:
    if role not in {r.value for r in Role}:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}")
    if (region and not region.isdigit()) or len(region) > 12 or (role != Role.ADMIN.value and len(region) < 4):
        raise ValueError("region must be a region code prefix of 4 to 12 digits")
    if department is not None and department not in {d.value for d in Department}:
        raise ValueError(f"unknown department {department!r}")
    if role == Role.DEPARTMENT_OFFICER.value and department is None:
        raise ValueError("department officers need --department")


def _register_with_notify(settings: Settings, **contact: Any) -> bool | str:
    """Give notify the contact data it resolves recipients from (if its directory exists). Returns
    True when registered, False when notify has no directory, or the error (the login exists anyway)."""
    try:
        directory = importlib.import_module("safetynet_notify.directory")
    except ImportError:
        return False
    upsert = getattr(directory, "upsert_recipient", None)
    if upsert is None:
        return False
    try:
        result = upsert(settings, **contact)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    except Exception as exc:  # e.g. notify's schema not migrated yet: report it, keep the user
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return True


async def create_user(
    settings: Settings,
    *,
    username: str,
    password: str,
    role: str,
    region: str,
    department: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    grid_id: str | None = None,
) -> None:
    """Create or replace a user (role and region checked; the password stored as an argon2 hash).
    `grid_id` names the grid a grid worker serves (their inbox is that grid's tasks)."""
    _check(role, region, department)
    db = Database(settings, settings.db_schema or SERVICE.schema)
    try:
        await Store(db).upsert_user(
            {
                "username": username,
                "password_hash": hash_secret(password),
                "role": role,
                "region_code": region,
                "department": department,
                "email": email,
                "phone": phone,
                "grid_id": grid_id,
                "active": True,
            }
        )
    finally:
        await db.close()


@users_app.command("create")
def users_create(
    username: str = typer.Option(..., help="login name"),
    password: str = typer.Option(..., help="password (stored argon2-hashed)"),
    role: str = typer.Option(
        ...,
        help="grid_worker, village_cadre, township_officer, county_officer, department_officer, auditor or admin",
    ),
    region: str = typer.Option(..., help="region code prefix the user may see"),
    department: str | None = typer.Option(None, help="department code (department officers)"),
    email: str | None = typer.Option(None),
    phone: str | None = typer.Option(None),
    grid: str | None = typer.Option(None, help="grid id a grid worker serves (网格)"),
) -> None:
    """Create (or update) a case-worker login."""
    settings = Settings()
    try:
        asyncio.run(
            create_user(
                settings,
                username=username,
                password=password,
                role=role,
                region=region,
                department=department,
                email=email,
                phone=phone,
                grid_id=grid,
            )
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    notified = _register_with_notify(
        settings, username=username, role=role, region=region, department=department, email=email, phone=phone
    )
    if notified not in (True, False):
        typer.echo(f"warning: notify directory not updated: {notified}", err=True)
    typer.echo(
        json.dumps(
            {
                "username": username,
                "role": role,
                "region": region,
                "department": department,
                "grid_id": grid,
                "notify_directory": notified,
            }
        )
    )

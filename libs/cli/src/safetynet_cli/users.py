"""`safetynet users ...`: a case-worker account is a login in the workflow service and a notification
recipient in notify; the CLI asks each service's own admin functions to write its own tables."""

from __future__ import annotations

import asyncio
import json

import typer

from safetynet_notify.directory import deactivate_recipient, upsert_recipient
from safetynet_notify.settings import Settings as NotifySettings
from safetynet_workflow.auth.admin import create_user, deactivate_user
from safetynet_workflow.settings import Settings as WorkflowSettings

users_app = typer.Typer(help="Case-worker users (workflow logins, notify recipients).", no_args_is_help=True)


def _register_with_notify(
    username: str, role: str, region: str, department: str | None, email: str | None, phone: str | None
) -> bool | str:
    """Give notify the contact data it resolves recipients from. True when registered, else the error
    (the login exists anyway, e.g. when notify's schema is not migrated yet)."""
    try:
        upsert_recipient(
            NotifySettings(), username=username, role=role, region=region, department=department, email=email,
            phone=phone,
        )  # fmt: skip
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return True


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
    """Create (or update) a case-worker login and its notification contact."""
    try:
        asyncio.run(
            create_user(
                WorkflowSettings(),
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
    notified = _register_with_notify(username, role, region, department, email, phone)
    if notified is not True:
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


@users_app.command("deactivate")
def users_deactivate(username: str) -> None:
    """Deactivate a login: it cannot sign in again and its existing tokens fail at once in every service."""
    if not asyncio.run(deactivate_user(WorkflowSettings(), username)):
        typer.echo(f"error: no user {username!r}", err=True)
        raise typer.Exit(2)
    deactivate_recipient(NotifySettings(), username)
    typer.echo(json.dumps({"username": username, "active": False}))

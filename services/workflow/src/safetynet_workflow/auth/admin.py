"""Case-worker accounts for the admin CLI (`safetynet users ...`): checked, passwords argon2-hashed."""

from __future__ import annotations

from safetynet_core.auth import Department, Role, hash_secret
from safetynet_core.db import Database
from safetynet_workflow.auth.store import UserStore
from safetynet_workflow.info import SERVICE
from safetynet_workflow.settings import Settings


def check_account(role: str, region: str, department: str | None) -> None:
    if role not in {r.value for r in Role}:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}")
    if (region and not region.isdigit()) or len(region) > 12 or (role != Role.ADMIN.value and len(region) < 4):
        raise ValueError("region must be a region code prefix of 4 to 12 digits")
    if department is not None and department not in {d.value for d in Department}:
        raise ValueError(f"unknown department {department!r}")
    if role == Role.DEPARTMENT_OFFICER.value and department is None:
        raise ValueError("department officers need --department")


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
    check_account(role, region, department)
    db = Database(settings, settings.db_schema or SERVICE.schema)
    try:
        await UserStore(db).upsert_user(
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


async def deactivate_user(settings: Settings, username: str) -> bool:
    """The user can no longer log in, and every token of theirs fails at once (their sessions are revoked).
    False when there is no such user."""
    db = Database(settings, settings.db_schema or SERVICE.schema)
    try:
        return await UserStore(db).deactivate(username)
    finally:
        await db.close()

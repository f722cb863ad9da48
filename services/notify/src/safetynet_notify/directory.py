"""The recipient directory (notify's own copy of who may be told what) and recipient resolution."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import and_, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from safetynet_core.auth import Role
from safetynet_core.db import Database
from safetynet_core.service import run_sync
from safetynet_core.settings import CoreSettings
from safetynet_notify.events import CaseEvent
from safetynet_notify.info import SERVICE
from safetynet_notify.render import normalize_locale
from safetynet_notify.tables import recipients

T = TypeVar("T")


@dataclass(frozen=True)
class Recipient:
    username: str
    role: str
    region: str
    email: str | None
    phone: str | None
    locale: str


async def upsert_recipient_async(
    db: Database,
    *,
    username: str,
    role: str,
    region: str,
    department: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    locale: str = "zh-CN",
) -> None:
    """Insert or update one recipient (the async core of `upsert_recipient`)."""
    Role(role)  # fail fast on an unknown role
    if not region.isdigit() or len(region) > 12:
        raise ValueError("region must be a prefix of a 12-digit region code")
    values = {
        "username": username,
        "role": role,
        "region": region,
        "department": department,
        "email": email or None,
        "phone": phone or None,
        "locale": normalize_locale(locale),
        "active": True,
    }
    stmt = insert(recipients).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[recipients.c.username],
        set_={**{k: stmt.excluded[k] for k in values if k != "username"}, "updated_at": func.now()},
    )
    async with db.unit_of_work() as uow:
        await uow.execute(stmt)
        await uow.commit()


def _with_database(settings: CoreSettings, work: Callable[[Database], Awaitable[None]]) -> None:
    """Run `work` on notify's schema (`settings.db_schema` when set, else "notify") from sync CLI code."""

    async def main() -> None:
        db = Database(settings, settings.db_schema or SERVICE.schema, pool_size=1)
        try:
            await work(db)
        finally:
            await db.close()

    run_sync(main())


def upsert_recipient(settings: CoreSettings, **contact: Any) -> None:
    """For `safetynet users create`: store the user as a notification recipient (keywords as for
    `upsert_recipient_async`)."""
    _with_database(settings, lambda db: upsert_recipient_async(db, **contact))


async def deactivate_recipient_async(db: Database, username: str) -> None:
    """A deactivated user is told nothing any more."""
    async with db.unit_of_work() as uow:
        await uow.execute(update(recipients).where(recipients.c.username == username).values(active=False))
        await uow.commit()


def deactivate_recipient(settings: CoreSettings, username: str) -> None:
    """For `safetynet users deactivate`."""
    _with_database(settings, lambda db: deactivate_recipient_async(db, username))


def _covers(region_code: str) -> Any:
    """Recipients whose region prefix covers `region_code`."""
    return literal(region_code).like(recipients.c.region + "%")


def _targets(event: CaseEvent) -> tuple[list[Any], list[str]]:
    """Role/region conditions and explicit usernames that should hear about a task event."""
    task = event.task
    if task is None:
        return [], []
    region = event.task_region
    if task.kind == "measure" and task.department:
        by_role = and_(
            recipients.c.role == Role.DEPARTMENT_OFFICER.value,
            recipients.c.department == task.department,
            _covers(region),
        )
    else:
        by_role = and_(recipients.c.role == task.role, _covers(region))
    usernames = [task.assignee] if task.assignee else []
    if event.name == "task.escalated":
        original = event.details.get("original_assignee") or event.details.get("previous_assignee")
        if isinstance(original, str) and original:
            usernames.append(original)
    return [by_role], usernames


async def resolve_recipients(session: AsyncSession, event: CaseEvent) -> list[Recipient]:
    """The people a task event is for: the task's role covering its region (department officers for
    measures), plus the assignee (for escalations: the new level and the original assignee).
    Case and notice events go to webhook subscribers only."""
    conditions, usernames = _targets(event)
    if usernames:
        conditions.append(recipients.c.username.in_(usernames))
    if not conditions:
        return []
    rows = await session.execute(
        select(recipients).where(recipients.c.active, or_(*conditions)).order_by(recipients.c.username)
    )
    return [
        Recipient(
            username=r.username, role=r.role, region=r.region, email=r.email, phone=r.phone, locale=r.locale
        )
        for r in rows
    ]

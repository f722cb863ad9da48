"""Recipient resolution by role and region prefix against the real notify schema."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from safetynet_core.db import Database
from safetynet_notify.directory import resolve_recipients, upsert_recipient, upsert_recipient_async
from safetynet_notify.events import CaseEvent, TaskInfo
from safetynet_notify.info import SERVICE
from safetynet_notify.settings import Settings

pytestmark = pytest.mark.integration
VILLAGE = "610327101201"


def task_event(
    name: str,
    role: str,
    *,
    kind: str = "home_visit",
    assignee: str | None = None,
    department: str | None = None,
    details: dict[str, Any] | None = None,
) -> CaseEvent:
    task = TaskInfo(
        task_id="T1",
        kind=kind,
        role=role,
        region_code=VILLAGE,
        assignee=assignee,
        due_at=None,
        escalation_level=1,
        department=department,
    )
    return CaseEvent(
        event_key="k",
        name=name,
        case_id="C1",
        household_id="H1",
        region_code=VILLAGE,
        step="verify",
        status="verifying",
        occurred_at=datetime.now(UTC),
        close_reason="",
        task=task,
        details=details or {},
    )


async def test_recipients_by_role_region_department_and_assignee(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    settings: Settings = await provision(isolated_settings(Settings), SERVICE)
    upsert_recipient(settings, username="cadre", role="village_cadre", region=VILLAGE, email="c@x.test")
    upsert_recipient(settings, username="cadre-other", role="village_cadre", region="610327101202")
    upsert_recipient(settings, username="township", role="township_officer", region="610327101")
    upsert_recipient(settings, username="county", role="county_officer", region="610327")
    upsert_recipient(
        settings,
        username="health-dept",
        role="department_officer",
        region="610327",
        department="medical_insurance",
    )
    upsert_recipient(
        settings, username="water-dept", role="department_officer", region="610327", department="water"
    )
    upsert_recipient(settings, username="grid", role="grid_worker", region=VILLAGE)
    db = Database(settings, settings.db_schema or SERVICE.schema)
    try:
        await upsert_recipient_async(db, username="cadre", role="village_cadre", region=VILLAGE, locale="en")
        with pytest.raises(ValueError):
            await upsert_recipient_async(db, username="bad", role="mayor", region=VILLAGE)

        async def names(event: CaseEvent) -> list[str]:
            async with db.unit_of_work() as uow:
                return [r.username for r in await resolve_recipients(uow.session, event)]

        assigned = task_event("task.assigned", "village_cadre", assignee="grid")
        assert await names(assigned) == ["cadre", "grid"]
        async with db.unit_of_work() as uow:
            (cadre, _) = await resolve_recipients(uow.session, assigned)
        assert cadre.locale == "en" and cadre.email is None  # the update replaced the row
        escalated = task_event("task.escalated", "township_officer", assignee="cadre")
        assert await names(escalated) == ["cadre", "township"]
        assert await names(replace(escalated, details={"original_assignee": "grid"})) == [
            "cadre",
            "grid",
            "township",
        ]
        measure = task_event("task.assigned", "department_officer", kind="measure", department="water")
        assert await names(measure) == ["water-dept"]
        assert await names(task_event("task.reminder", "county_officer")) == ["county"]
        assert await names(replace(assigned, name="case.opened", task=None)) == []
    finally:
        await db.close()

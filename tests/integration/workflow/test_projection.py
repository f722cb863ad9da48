"""The projection store and the users CLI against the real Postgres (fresh schema per test)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from safetynet_cli.main import app as cli
from safetynet_core.auth import Principal, Role, verify_secret
from safetynet_core.db import Database
from safetynet_workflow.auth.store import UserStore
from safetynet_workflow.cases.store import CaseStore
from safetynet_workflow.info import SERVICE
from safetynet_workflow.projection.models import CaseRow, Change, Entry, TaskState
from safetynet_workflow.projection.store import ProjectionStore
from safetynet_workflow.reports.store import ReportStore
from safetynet_workflow.settings import Settings
from safetynet_workflow.tasks.store import TaskStore

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _change(
    version: int,
    status: str,
    entries: list[Entry],
    *,
    kind: str = "screen",
    role: str = "village_cadre",
    region: str = "610327100201",
    department: str | None = None,
) -> Change:
    case = CaseRow(
        case_id="C1",
        workflow_id="case-H1",
        household_id="H1",
        region_code="610327100201",
        status="screening",
        step="screen",
        policy_version="2026.1",
        opened_at=NOW,
        step_since=NOW,
    )
    task = TaskState(
        task_id=f"C1-{kind}-1",
        case_id="C1",
        workflow_id="case-H1",
        household_id="H1",
        kind=kind,
        step="screen",
        role=role,
        level="village",
        region_code=region,
        base_region="610327100201",
        department=department,
        status=status,
        created_at=NOW,
        due_at=NOW + timedelta(days=2),
        sla_seconds=172800,
    )
    return Change(
        version=version,
        case_id="C1",
        household_id="H1",
        region_code="610327100201",
        step="screen",
        status="screening",
        case=case,
        tasks=[task],
        entries=entries,
    )


def _entry(key: str, name: str, **details: Any) -> Entry:
    return Entry(key=key, name=name, at=NOW, details=details, publish=True)


async def test_projection_is_idempotent_and_versioned(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    settings: Settings = await provision(isolated_settings(Settings), SERVICE)
    db = Database(settings, settings.db_schema or "")
    store, tasks, cases = ProjectionStore(db), TaskStore(db), CaseStore(db)
    try:
        opened = [_entry("C1:1", "case.opened"), _entry("C1:2", "task.assigned")]
        assert len(await store.apply(_change(2, "open", opened))) == 2
        assert await store.apply(_change(2, "open", opened)) == []  # a retried activity writes nothing new
        escalated = _entry(
            "C1:5",
            "task.escalated",
            escalation_level=1,
            **{
                "from": {"level": "village", "role": "village_cadre"},
                "to": {"level": "township", "role": "township_officer"},
            },
        )
        await store.apply(_change(5, "open", [escalated], role="township_officer", region="610327100"))
        await store.apply(_change(3, "claimed", []))  # late, older write: must not win
        cadre = Principal("c", Role.VILLAGE_CADRE, "610327100201")
        township = Principal("t", Role.TOWNSHIP_OFFICER, "610327100")
        assert await tasks.list_tasks(cadre, cadre.region, None, None, 10) == []
        [task] = await tasks.list_tasks(township, township.region, None, None, 10)
        assert task["status"] == "open" and task["role"] == "township_officer"
        detail = await cases.case_detail("C1")
        assert [e["name"] for e in detail["timeline"]] == ["case.opened", "task.assigned", "task.escalated"]
        assert detail["escalations"][0]["to_level"] == "township"
        hr = Principal("h", Role.DEPARTMENT_OFFICER, "610327", "human_resources")
        await store.apply(
            _change(
                6, "open", [], kind="measure", role="department_officer", region="610327", department="human_resources"
            )
        )
        assert [t["kind"] for t in await tasks.list_tasks(hr, hr.region, None, None, 10)] == ["measure"]
        other = Principal("e", Role.DEPARTMENT_OFFICER, "610327", "education")
        assert await tasks.list_tasks(other, other.region, None, None, 10) == []
    finally:
        await db.close()


async def test_a_replayed_workflow_task_overwrites_an_entry_that_never_happened(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    """A worker killed after its local activity wrote but before the workflow task completed: the
    re-run numbers entries afresh, so the replay's entry must replace the phantom one under its key."""
    settings: Settings = await provision(isolated_settings(Settings), SERVICE)
    db = Database(settings, settings.db_schema or "")
    store, cases = ProjectionStore(db), CaseStore(db)
    try:
        await store.apply(_change(2, "open", [_entry("C1:1", "case.opened"), _entry("C1:2", "task.claimed")]))
        replayed = [_entry("C1:1", "case.opened"), _entry("C1:2", "task.assigned")]
        assert [e.key for e in await store.apply(_change(2, "open", replayed))] == ["C1:2"]
        assert await store.apply(_change(2, "open", replayed)) == []  # an identical replay is not new
        detail = await cases.case_detail("C1")
        assert [e["name"] for e in detail["timeline"]] == ["case.opened", "task.assigned"]
    finally:
        await db.close()


async def test_users_create_cli(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> None:
    settings: Settings = await provision(isolated_settings(Settings), SERVICE)
    env = {"SAFETYNET_DB_SCHEMA": settings.db_schema or ""}
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        [
            "users",
            "create",
            "--username",
            "li",
            "--password",
            "pw-123456",
            "--role",
            "department_officer",
            "--region",
            "610327",
            "--department",
            "education",
            "--email",
            "li@example.org",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    bad = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["users", "create", "--username", "x", "--password", "p", "--role", "king", "--region", "610327"],
        env=env,
    )
    assert bad.exit_code == 2
    db = Database(settings, settings.db_schema or "")
    try:
        user = await UserStore(db).user("li")
    finally:
        await db.close()
    assert user is not None and user["department"] == "education" and user["email"] == "li@example.org"
    assert user["password_hash"].startswith("$argon2") and verify_secret(user["password_hash"], "pw-123456")


async def test_a_task_escalated_beyond_the_county_is_in_the_county_inbox_and_the_report(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    """A correction approval ignored past the county: listed under the county (its level says city),
    counted among the county report's open and overdue tasks though it belongs to no case."""
    settings: Settings = await provision(isolated_settings(Settings), SERVICE)
    db = Database(settings, settings.db_schema or "")
    try:
        approval = TaskState(
            task_id="R1-correction_approval-2", case_id="R1", workflow_id="correction-R1", household_id="H7",
            kind="correction_approval", step="correction", role="county_officer", level="city", region_code="610327",
            base_region="610327100201", created_at=NOW, due_at=NOW + timedelta(days=5), sla_seconds=432000,
            escalation_level=2, overdue=True,
        )  # fmt: skip
        change = Change(
            version=3, case_id="R1", household_id="H7", region_code="610327100201", step="correction", tasks=[approval]
        )
        await ProjectionStore(db).apply(change)
        county = Principal("c", Role.COUNTY_OFFICER, "610327")
        [listed] = await TaskStore(db).list_tasks(county, county.region, None, None, 10)
        assert listed["task_id"] == approval.task_id and listed["level"] == "city"
        report = await ReportStore(db).summary(
            "610327", NOW - timedelta(days=30), NOW + timedelta(days=30), limit_days=15, grace=timedelta(0),
            missed_limit=10,
        )  # fmt: skip
        assert report["tasks_open"] == 1 and report["overdue_tasks_by_escalation_level"] == {"2": 1}
    finally:
        await db.close()

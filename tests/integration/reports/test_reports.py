"""Reports, notices and case-detail notifications of the workflow service against the real Kafka and
Postgres: the reporting tables are fed from the intake and risk topics by the reports consumer, the
projection rows are written through the projection store. Notify is down here (a closed port): the
report and the case page say so instead of failing (e2e tests cover notify up)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from safetynet_core.auth import Principal, Role, issue_token
from safetynet_core.contracts import HouseholdEvent, RiskAssessmentMessage, to_struct, to_timestamp
from safetynet_core.db import Database
from safetynet_core.kafka import delete_topics, make_producer
from safetynet_core.testing import eventually, free_port, serve, unique
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.auth.store import UserStore
from safetynet_workflow.clients.notify import NotifyClient
from safetynet_workflow.info import SERVICE
from safetynet_workflow.main import create_app
from safetynet_workflow.projection.models import CaseRow, Change, Entry, TaskState
from safetynet_workflow.projection.store import ProjectionStore
from safetynet_workflow.reports.consumer import CONSUMER, ReportsConsumer
from safetynet_workflow.settings import Settings

pytestmark = pytest.mark.integration

TOWNSHIP, V1, V2, ELSEWHERE = "610327100", "610327100201", "610327100202", "610328100201"
NOW = datetime.now(UTC)


def dlq_sources(settings: Settings) -> tuple[str, str]:
    return settings.topic_household_events, settings.topic_risk_assessments


GRID = "G-A"
PII_KEYS = {"id_number", "phone", "bank_account", "name", "members", "diagnosis_category", "household_id"}


def household(household_id: str, region: str, grid: str = "") -> bytes:
    message = HouseholdEvent(schema_version=1, event_id=uuid.uuid4().hex, household_id=household_id,
                             department="rural_revitalization")  # fmt: skip
    message.occurred_at.CopyFrom(to_timestamp(NOW))
    message.received_at.CopyFrom(to_timestamp(NOW))
    message.registry_record.household_id = household_id
    message.registry_record.region_code = region
    message.registry_record.grid_id = grid
    return message.SerializeToString()


def event(event_id: str, household_id: str, department: str, event_type: str) -> bytes:
    message = HouseholdEvent(schema_version=1, event_id=event_id, household_id=household_id, department=department)
    message.occurred_at.CopyFrom(to_timestamp(NOW - timedelta(days=200)))
    message.received_at.CopyFrom(to_timestamp(NOW))
    message.department_event.type = event_type
    message.department_event.payload.CopyFrom(to_struct({}))
    return message.SerializeToString()


def assessment(
    household_id: str,
    region: str,
    *,
    flagged: bool,
    category: str = "",
    risk_types: tuple[str, ...] = (),
    warnings: tuple[str, ...] = (),
    event_ids: tuple[str, ...] = (),
    age: timedelta = timedelta(),
) -> bytes:
    message = RiskAssessmentMessage(
        schema_version=1,
        assessment_id=uuid.uuid4().hex,
        household_id=household_id,
        region_code=region,
        category=category,
        level="high" if flagged else "low",
        score=66 if flagged else 20,
        risk_types=list(risk_types),
        warnings=list(warnings),
        opens_case=flagged,
        policy_version="2026.1",
        event_ids=list(event_ids),
    )
    message.assessed_at.CopyFrom(to_timestamp(NOW - age))
    return message.SerializeToString()


def change(case_id: str, household_id: str, *, closed: bool = False, entries: list[Entry] | None = None) -> Change:
    """A case in V1: open at screen with one overdue, once-escalated screen task, or closed (eliminated)."""
    case = CaseRow(
        case_id=case_id, workflow_id=f"case-{household_id}", household_id=household_id, region_code=V1,
        status="closed" if closed else "screening", step="close" if closed else "screen",
        close_reason="risk_eliminated" if closed else None, category="marginal", policy_version="2026.1",
        opened_at=NOW - timedelta(days=40), step_since=NOW, closed_at=NOW if closed else None,
        notice_until=None if closed else NOW + timedelta(days=3),
    )  # fmt: skip
    task = TaskState(
        task_id=f"{case_id}-screen-1", case_id=case_id, workflow_id=f"case-{household_id}",
        household_id=household_id, kind="screen", step="screen", role="township_officer", level="township",
        region_code=TOWNSHIP, base_region=V1, status="done" if closed else "open",
        created_at=NOW - timedelta(days=5), due_at=NOW - timedelta(days=1), sla_seconds=172800, escalation_level=1,
    )  # fmt: skip
    return Change(version=1, case_id=case_id, household_id=household_id, region_code=V1, step=case.step,
                  status=case.status, case=case, tasks=[task], entries=entries or [])  # fmt: skip


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[str]:
    """The workflow API (notify unreachable) with the reports consumer in the test's event loop."""
    dead_notify = NotifyClient(f"http://127.0.0.1:{free_port()}", timeout=1)
    producer = make_producer(settings)
    await producer.start()
    db = Database(settings, settings.db_schema or SERVICE.schema)
    consumer = asyncio.create_task(ReportsConsumer(settings, db, producer).run())
    try:
        async with serve(create_app(settings, notify=dead_notify)) as url:
            yield url
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await producer.stop()
        await db.close()
        await delete_topics(settings, [settings.dlq_topic(t, CONSUMER) for t in dlq_sources(settings)])


async def publish(settings: Settings) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        e = ["e1", "e2", "e3", "e4", "e9"]
        for key, value in [
            ("H1", household("H1", V1, GRID)), ("H2", household("H2", V1, GRID)), ("H3", household("H3", V1, "G-B")),
            ("H4", household("H4", V2)), ("H9", household("H9", ELSEWHERE)),
            ("H1", event(e[0], "H1", "medical_insurance", "medical_expense")),
            ("H1", event(e[1], "H1", "medical_insurance", "medical_expense")),
            ("H2", event(e[2], "H2", "education", "education_expense")),
            ("H4", event(e[3], "H4", "housing", "housing_safety")),
            ("H9", event(e[4], "H9", "medical_insurance", "medical_expense")),
        ]:  # fmt: skip
            await producer.send_and_wait(settings.topic_household_events, value, key=key.encode())
        for key, value in [
            ("H1", assessment("H1", V1, flagged=True, category="marginal", risk_types=("illness",),
                              event_ids=(e[0], e[1]))),
            ("H2", assessment("H2", V1, flagged=True, category="sudden_hardship", risk_types=("education",),
                              warnings=("education_oop",), event_ids=(e[2],), age=timedelta(days=16))),
            ("H3", assessment("H3", V1, flagged=False)),
            ("H4", assessment("H4", V2, flagged=True, risk_types=("housing",), warnings=("housing_unsafe",))),
            ("H9", assessment("H9", ELSEWHERE, flagged=True, category="marginal", event_ids=(e[4],))),
        ]:  # fmt: skip
            await producer.send_and_wait(settings.topic_risk_assessments, value, key=key.encode())
        await producer.send_and_wait(settings.topic_risk_assessments, b"\xff not protobuf", key=b"H1")
    finally:
        await producer.stop()


async def bearer(settings: Settings, role: Role, region: str) -> dict[str, str]:
    """A signed-in user's header: an account and a login session in the test's schema (workflow checks both)."""
    username = unique("u")
    await create_user(settings, username=username, password="reports-password-1", role=role.value, region=region)
    db = Database(settings, settings.db_schema or "")
    try:
        session_id = await UserStore(db).open_session(username, timedelta(hours=1))
    finally:
        await db.close()
    token = issue_token(settings, Principal(subject=username, role=role, region=region), session_id=session_id)
    return {"Authorization": f"Bearer {token}"}


async def test_summary_notices_and_case_notifications(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    settings: Settings = isolated_settings(
        Settings, run_worker=False, run_consumer=False, inspection_enabled=False, workflow_task_queue=unique("q")
    )
    await provision(settings, SERVICE)
    db = Database(settings, settings.db_schema or SERVICE.schema)
    identified = Entry(key="C5-identified", name="case.identified", at=NOW, details={"days": 20.0})
    try:
        await ProjectionStore(db).apply(change("C1", "H1"))
        await ProjectionStore(db).apply(change("C5", "H5", closed=True, entries=[identified]))
    finally:
        await db.close()
    await publish(settings)
    township = await bearer(settings, Role.TOWNSHIP_OFFICER, TOWNSHIP)

    async with running(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def settled() -> dict[str, Any]:
            response = await http.get("/v1/reports/summary", params={"period": "month"}, headers=township)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            assert (body["events_received"], body["households_flagged"]) == (4, 3), body
            return body

        report = await eventually(settled, timeout=60, interval=0.5, message="reporting tables filled")
        assert report["region"] == TOWNSHIP and report["period"] == "month"
        assert report["events_by_department"] == {"education": 1, "housing": 1, "medical_insurance": 2}
        assert report["events_assessed"] == 3  # H4's event is in no assessment
        assert report["households_flagged_by_category"] == {"marginal": 1, "none": 1, "sudden_hardship": 1}
        assert report["households_flagged_by_risk_type"] == {"education": 1, "housing": 1, "illness": 1}
        assert report["cases_by_step"] == {"close": 1, "screen": 1}
        assert report["cases_by_status"] == {"closed": 1, "screening": 1}
        assert report["cases_closed_by_reason"] == {"risk_eliminated": 1}
        assert report["eliminations"] == 1
        assert (report["tasks_open"], report["tasks_overdue"]) == (1, 1)
        assert report["overdue_tasks_by_escalation_level"] == {"1": 1}  # counted by the case's region
        assert report["identification"] == {
            "identified": 1, "median_days": 20.0, "p90_days": 20.0, "share_over_limit": 1.0, "limit_days": 15.0,
        }  # fmt: skip
        assert report["inspections"] == {"total": 0, "open": 0, "passed": 0, "failed": 0}
        # 应纳未纳: H2 flagged 16 days ago (past the 15-day identification limit) without a case; H4's flag is
        # fresh, H1 has its case.
        assert [m["household_id"] for m in report["missed_inclusions"]] == ["H2"]
        assert report["missed_inclusions"][0]["warnings"] == ["education_oop"]
        assert report["notifications_sent"] is None and "notify" in report["notifications_error"]

        # Cut by grid: only H1 and H2 (grid G-A) count; the case of H5 (no registry record) drops out.
        by_grid = await http.get("/v1/reports/summary", params={"period": "month", "grid": GRID}, headers=township)
        assert by_grid.status_code == 200, by_grid.text
        grid_report = by_grid.json()
        assert grid_report["grid"] == GRID
        assert (grid_report["events_received"], grid_report["households_flagged"]) == (3, 2)
        assert grid_report["cases_by_step"] == {"screen": 1}
        assert [m["household_id"] for m in grid_report["missed_inclusions"]] == ["H2"]

        # CSV: by query or by Accept header, one row per number.
        for params, headers in (({"format": "csv"}, township), ({}, {**township, "Accept": "text/csv"})):
            response = await http.get("/v1/reports/summary", params={"period": "month", **params}, headers=headers)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO(response.text)))
            assert rows[0] == ["section", "name", "value"]
            assert ["events_by_department", "medical_insurance", "2"] in rows
            assert ["summary", "tasks_overdue", "1"] in rows
            assert any(r[0] == "missed_inclusion" and r[1] == "H2" for r in rows)

        # Region scoping: a village cadre of V2 sees only V2 (a wider filter narrows to the scope),
        # another village is forbidden.
        cadre = await bearer(settings, Role.VILLAGE_CADRE, V2)
        response = await http.get("/v1/reports/summary", params={"region": V1}, headers=cadre)
        assert response.status_code == 403
        own = (await http.get("/v1/reports/summary", params={"region": TOWNSHIP}, headers=cadre)).json()
        assert own["region"] == V2
        assert (own["events_received"], own["households_flagged"], own["cases_total"]) == (1, 1, 0)
        assert (await http.get("/v1/reports/summary")).status_code == 401
        bad = await http.get("/v1/reports/summary", params={"period": "year"}, headers=township)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "period"

        # Notices: running ones inside the scope, with nothing personal in them.
        notices = (await http.get("/v1/notices", headers=township)).json()["notices"]
        assert [n["case_id"] for n in notices] == ["C1"]
        assert notices[0]["region_name"] == "城关镇 东关村"  # the village by its name
        assert not PII_KEYS & set(notices[0]) and set(notices[0]) <= {
            "case_id", "region_code", "region_name", "category", "step", "notice_until",
        }  # fmt: skip
        assert (await http.get("/v1/notices", headers=cadre)).json()["notices"] == []

        # Case detail: the notifications part degrades when notify does not answer.
        detail = (await http.get("/v1/cases/C1", headers=township)).json()
        assert detail["notifications"] == [] and "notify" in detail["notifications_error"]

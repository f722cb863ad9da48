"""Coverage gaps on the case, on the real Postgres, Kafka and Temporal: departments report members'
insurance and employment through intake (in-process); the workflow's reports consumer keeps them, and
`GET /v1/cases/{id}` shows the household's gaps until a report closes them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select

from safetynet_core.coverage import county_day
from safetynet_core.db import Database
from safetynet_core.testing import eventually, free_port, serve, unique
from safetynet_intake.clients import create_client
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_intake.main import create_app as create_intake
from safetynet_intake.samples import household_record
from safetynet_intake.settings import Settings as IntakeSettings
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.clients.notify import NotifyClient
from safetynet_workflow.info import SERVICE
from safetynet_workflow.main import create_app
from safetynet_workflow.projection.models import CaseRow, Change
from safetynet_workflow.projection.store import ProjectionStore
from safetynet_workflow.reports.tables import report_events
from safetynet_workflow.settings import Settings

pytestmark = pytest.mark.integration
HOUSEHOLD, VILLAGE = "H610327101201043", "610327101201"  # M1 works (full labour), M2 is at school
PASSWORD = "coverage-password-1"


async def open_case(settings: Settings, case_id: str) -> None:
    """The household's open case in the projection (as the case workflow records it)."""
    now = datetime.now(UTC)
    case = CaseRow(
        case_id=case_id, workflow_id=f"case-{HOUSEHOLD}", household_id=HOUSEHOLD, region_code=VILLAGE,
        status="assisting", step="assist", category="marginal", policy_version="2026.1", opened_at=now, step_since=now,
    )  # fmt: skip
    change = Change(version=1, case_id=case_id, household_id=HOUSEHOLD, region_code=VILLAGE, step=case.step,
                    status=case.status, case=case)  # fmt: skip
    db = Database(settings, settings.db_schema or SERVICE.schema)
    try:
        await ProjectionStore(db).apply(change)
    finally:
        await db.close()


async def test_the_case_shows_coverage_gaps_until_they_close(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topics = {f"topic_{t.replace('-', '_')}": f"test.{t}.{suffix}" for t in ("household-events", "risk-assessments")}
    intake_settings = await provision(isolated_settings(IntakeSettings, **topics, relay_poll_interval=0.2), INTAKE)
    workflow = isolated_settings(
        Settings, **topics, run_worker=False, inspection_enabled=False, workflow_task_queue=unique("q")
    )
    settings: Settings = await provision(workflow, SERVICE)
    conn = await asyncpg.connect(
        intake_settings.asyncpg_dsn, server_settings={"search_path": intake_settings.db_schema}
    )
    try:
        keys = {
            d: (await create_client(conn, d, d))[1]
            for d in ("rural_revitalization", "medical_insurance", "human_resources")
        }
    finally:
        await conn.close()
    case_id = f"C{suffix}"
    await open_case(settings, case_id)
    await create_user(settings, username="cadre", password=PASSWORD, role="village_cadre", region=VILLAGE)
    year = county_day().year

    dead_notify = NotifyClient(f"http://127.0.0.1:{free_port()}", timeout=1)
    async with (
        serve(create_intake(intake_settings)) as intake_url,
        serve(create_app(settings, notify=dead_notify)) as url,  # with its consumers
        httpx.AsyncClient(timeout=30) as http,
    ):

        async def report(department: str, event_type: str, member: str, **payload: Any) -> None:
            event = {"event_id": unique("cov"), "type": event_type, "household_id": HOUSEHOLD, "member_id": member,
                     "occurred_at": datetime.now(UTC).isoformat(), "payload": payload}  # fmt: skip
            headers = {"Authorization": f"Bearer {keys[department]}"}
            response = await http.post(f"{intake_url}/v1/events", json=event, headers=headers)
            assert response.status_code == 202, response.text

        registry = await http.put(
            f"{intake_url}/v1/households/{HOUSEHOLD}",
            json=household_record(HOUSEHOLD, region_code=VILLAGE),
            headers={"Authorization": f"Bearer {keys['rural_revitalization']}"},
        )
        assert registry.status_code == 200, registry.text
        await report("medical_insurance", "insurance_status", "M2", scheme="basic_medical", insured=False, year=year)
        await report("human_resources", "employment_status", "M1", employed=False)
        login = await http.post(f"{url}/v1/auth/token", data={"username": "cadre", "password": PASSWORD})
        assert login.status_code == 200, login.text
        cadre = {"Authorization": f"Bearer {login.json()['access_token']}"}

        async def shown(*kinds: str) -> list[dict[str, Any]] | bool:
            """The case's gaps once they are these kinds (True for none), else False."""
            response = await http.get(f"{url}/v1/cases/{case_id}", headers=cadre)
            assert response.status_code == 200, response.text
            found: list[dict[str, Any]] = response.json()["coverage_gaps"]
            return (found or True) if [g["gap"] for g in found] == list(kinds) else False

        both = await eventually(lambda: shown("basic_medical", "employment"), timeout=60, message="two gaps")
        assert isinstance(both, list)
        medical, employment = both
        assert medical == {"member_id": "M2", "name": "李四", "gap": "basic_medical", "reason": "reported",
                           "since": date(year, 1, 1).isoformat()}  # fmt: skip
        assert employment == {"member_id": None, "name": None, "gap": "employment", "reason": "reported",
                              "since": county_day().isoformat()}  # fmt: skip

        await report("medical_insurance", "insurance_status", "M2", scheme="basic_medical", insured=True, year=year)
        await eventually(lambda: shown("employment"), timeout=60, message="the insurance gap closed")
        await report("human_resources", "employment_status", "M1", employed=True)
        await eventually(lambda: shown(), timeout=60, message="every gap closed")

        db = Database(settings, settings.db_schema or SERVICE.schema)
        try:  # coverage reports are not department facts for the reports
            async with db.unit_of_work() as uow:
                assert (await uow.execute(select(func.count()).select_from(report_events))).scalar_one() == 0
        finally:
            await db.close()

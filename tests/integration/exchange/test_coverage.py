"""Coverage checks on the real Postgres and Kafka, intake and notify in-process: medical insurance and human
resources report members' insurance and employment through intake; notify finds the gaps of an included
household and hands each, once, to the purpose whose department closes it (`change: coverage_gap`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from safetynet_core import contracts, kafka
from safetynet_core.auth import Principal, Role, issue_token
from safetynet_core.coverage import county_day
from safetynet_core.testing import eventually, serve, unique
from safetynet_intake.clients import create_client
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_intake.main import create_app as create_intake
from safetynet_intake.samples import household_record
from safetynet_intake.settings import Settings as IntakeSettings
from safetynet_notify.info import SERVICE as NOTIFY
from safetynet_notify.main import create_app as create_notify
from safetynet_notify.settings import Settings as NotifySettings

pytestmark = pytest.mark.integration
HOUSEHOLD = "H610327101201042"  # M1 works (full labour), M2 is at school
MEDICAL, JOBS = "medical_insurance_contribution_subsidy", "employment_services"
PURPOSE_DEPARTMENT = {MEDICAL: "medical_insurance", JOBS: "human_resources"}


@dataclass
class Departments:
    """Intake (the departments' side) and notify (their feeds), sharing the household-events topic."""

    intake: str
    notify: str
    settings: NotifySettings
    http: httpx.AsyncClient
    keys: dict[str, str]
    sent: list[str] = field(default_factory=list)

    async def report(self, department: str, event_type: str, member: str, days_ago: int = 1, **payload: Any) -> None:
        event_id = unique("cov")
        event = {
            "event_id": event_id,
            "type": event_type,
            "household_id": HOUSEHOLD,
            "member_id": member,
            "occurred_at": (contracts.now_utc() - timedelta(days=days_ago)).isoformat(),
            "payload": payload,
        }
        headers = {"Authorization": f"Bearer {self.keys[department]}"}
        response = await self.http.post(f"{self.intake}/v1/events", json=event, headers=headers)
        assert response.status_code == 202, response.text
        self.sent.append(event_id)

    def officer(self, department: str) -> dict[str, str]:
        principal = Principal(unique("officer"), Role.DEPARTMENT_OFFICER, "610327", department)
        return {"Authorization": f"Bearer {issue_token(self.settings, principal)}"}

    async def gaps(self, purpose: str) -> list[dict[str, Any]]:
        """The purpose's coverage gap records so far."""
        url = f"{self.notify}/v1/exchange/{purpose}/changes"
        response = await self.http.get(url, headers=self.officer(PURPOSE_DEPARTMENT[purpose]))
        assert response.status_code == 200, response.text
        return [c["record"] for c in response.json()["changes"] if c["record"]["change"] == "coverage_gap"]

    async def include(self, case_id: str) -> None:
        """The household's case reaches the assistance step (as the workflow service would publish it)."""
        producer = kafka.make_producer(self.settings)
        await producer.start()
        try:
            for name, step in (("case.opened", "screen"), ("case.step_changed", "assist")):
                message = contracts.CaseEventMessage(
                    schema_version=contracts.SCHEMA_VERSION, event_key=unique(name), name=name, case_id=case_id,
                    household_id=HOUSEHOLD, region_code="610327101201", step=step,
                    details=contracts.to_struct({"to": step, "category": "marginal", "risk_types": ["illness"]}),
                )  # fmt: skip
                message.occurred_at.CopyFrom(contracts.to_timestamp(contracts.now_utc()))
                await producer.send_and_wait(
                    self.settings.topic_case_events, message.SerializeToString(), key=HOUSEHOLD.encode()
                )
        finally:
            await producer.stop()


@pytest.fixture
async def departments(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> AsyncIterator[Departments]:
    suffix = uuid.uuid4().hex[:8]
    topics = {f"topic_{t.replace('-', '_')}": f"test.{t}.{suffix}" for t in ("household-events", "case-events")}
    intake_settings = await provision(isolated_settings(IntakeSettings, **topics, relay_poll_interval=0.2), INTAKE)
    notify_settings = await provision(
        isolated_settings(NotifySettings, **topics, consumer_group=unique("notify")), NOTIFY
    )
    conn = await asyncpg.connect(
        intake_settings.asyncpg_dsn, server_settings={"search_path": intake_settings.db_schema}
    )
    try:
        keys = {
            d: (await create_client(conn, d, f"{d} system"))[1]
            for d in (*PURPOSE_DEPARTMENT.values(), "rural_revitalization")
        }
    finally:
        await conn.close()
    async with (
        serve(create_intake(intake_settings)) as intake_url,
        serve(create_notify(notify_settings)) as notify_url,
        httpx.AsyncClient(timeout=30) as http,
    ):
        county = Principal(unique("county"), Role.COUNTY_OFFICER, "610327")
        headers = {"Authorization": f"Bearer {issue_token(notify_settings, county)}"}
        for purpose, department in PURPOSE_DEPARTMENT.items():
            body = {"department": department, "purpose": purpose, "mode": "pull", "region_prefix": "610327"}
            subscribed = await http.post(f"{notify_url}/v1/exchange/subscriptions", json=body, headers=headers)
            assert subscribed.status_code == 201, subscribed.text
        registry = await http.put(
            f"{intake_url}/v1/households/{HOUSEHOLD}",
            json=household_record(HOUSEHOLD),
            headers={"Authorization": f"Bearer {keys['rural_revitalization']}"},
        )
        assert registry.status_code == 200, registry.text
        yield Departments(intake_url, notify_url, notify_settings, http, keys)


async def test_gaps_go_once_to_the_department_that_closes_them(departments: Departments) -> None:
    year = county_day().year
    case_id = f"C{uuid.uuid4().hex[:12]}"
    await departments.report(
        "medical_insurance", "insurance_status", "M2", scheme="basic_medical", insured=False, year=year
    )
    await departments.include(case_id)
    nameless = {"event_id": "NO-MEMBER", "type": "insurance_status", "household_id": HOUSEHOLD,
                "occurred_at": contracts.now_utc().isoformat(),
                "payload": {"scheme": "basic_medical", "insured": True, "year": year}}  # fmt: skip
    refused = await departments.http.post(
        f"{departments.intake}/v1/events",
        json=nameless,
        headers={"Authorization": f"Bearer {departments.keys['medical_insurance']}"},
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "member_id"]

    [gap] = await eventually(lambda: departments.gaps(MEDICAL), timeout=30, message="the reported gap")
    assert gap["coverage_gap"] == {
        "gap": "basic_medical", "member_id": "M2", "reason": "reported", "since": date(year, 1, 1).isoformat()
    }  # fmt: skip
    assert (gap["case_id"], gap["household_id"], gap["member_id"], gap["name"]) == (case_id, HOUSEHOLD, "M2", "李四")
    assert gap["id_number_masked"].endswith("123X") and gap["measure"] is None
    assert await departments.gaps(JOBS) == []  # nobody reported on employment yet

    lost_job = county_day() - timedelta(days=2)
    await departments.report("human_resources", "employment_status", "M1", employed=False, since=lost_job.isoformat())
    [employment] = await eventually(lambda: departments.gaps(JOBS), timeout=30, message="the employment gap")
    assert employment["coverage_gap"] == {
        "gap": "employment", "member_id": None, "reason": "reported", "since": lost_job.isoformat()
    }  # fmt: skip
    assert employment["case_id"] == case_id and employment["member_id"] is None

    # medical insurance's monthly list (CSV) says again M2 is not insured: the same gap, nothing new; a row
    # without its member is refused by row. And M1 lacks 防返贫保险 (a new gap).
    listed_id = unique("list")
    monthly = (
        "event_id,household_id,member_id,occurred_at,scheme,insured,year\n"
        f"{listed_id},{HOUSEHOLD},M2,{county_day().isoformat()},basic_medical,否,{year}\n"
        f"{unique('list')},{HOUSEHOLD},,{county_day().isoformat()},basic_medical,是,{year}\n"
    )
    listed = await departments.http.post(
        f"{departments.intake}/v1/events:batch",
        params={"type": "insurance_status"},
        content=monthly.encode(),
        headers={"Authorization": f"Bearer {departments.keys['medical_insurance']}", "Content-Type": "text/csv"},
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["accepted"] == 1 and listed.json()["rejected"][0]["row"] == 3
    departments.sent.append(listed_id)
    await departments.report(
        "rural_revitalization", "insurance_status", "M1", scheme="anti_poverty_insurance", insured=False, year=year
    )

    async def two_gaps() -> list[dict[str, Any]]:
        found = await departments.gaps(MEDICAL)
        return found if len(found) >= 2 else []

    gaps = await eventually(two_gaps, timeout=30, message="the anti-poverty insurance gap")
    assert sorted((g["coverage_gap"]["gap"], g["member_id"]) for g in gaps) == [
        ("anti_poverty_insurance", "M1"), ("basic_medical", "M2")
    ]  # fmt: skip

    # M1 found work and both are insured: the gaps close, no record is added (and none is retracted)
    await departments.report("human_resources", "employment_status", "M1", days_ago=0, employed=True)
    await departments.report(
        "medical_insurance", "insurance_status", "M2", days_ago=0, scheme="basic_medical", insured=True, year=year
    )
    await eventually(lambda: _stored(departments, len(departments.sent)), timeout=30, message="every report stored")
    assert len(await departments.gaps(MEDICAL)) == 2 and len(await departments.gaps(JOBS)) == 1


async def _stored(departments: Departments, expected: int) -> bool:
    """Whether notify has kept every report sent (its registry consumer read them all)."""
    conn = await asyncpg.connect(
        departments.settings.asyncpg_dsn, server_settings={"search_path": departments.settings.db_schema or ""}
    )
    try:
        return int(await conn.fetchval("select count(*) from exchange_coverage_facts")) >= expected
    finally:
        await conn.close()

"""Outbound exchange on the real Kafka and Postgres: every department purpose of the policy selects its
households and members from case events and registry records (both public topics), each record cut to
the purpose's fields; departments pull with a cursor or receive signed webhooks (a real HTTP receiver);
registry records arriving after the inclusion and measure tasks add records; every access is logged."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from safetynet_core import contracts, kafka
from safetynet_core.auth import Principal, Role, issue_token
from safetynet_core.policy import cached_policy
from safetynet_core.testing import eventually, serve, unique
from safetynet_intake.clients import ApiClient
from safetynet_intake.messages import registry_record_message
from safetynet_intake.validation import HouseholdRecordIn
from safetynet_notify.info import SERVICE
from safetynet_notify.main import create_app
from safetynet_notify.settings import Settings

pytestmark = pytest.mark.integration
VILLAGE = "610327101201"
SECRET = "medical-insurance-shared-secret-01"
REGISTRY_CLIENT = ApiClient("c1", "rural_revitalization", "registry", frozenset(), True)
PURPOSES = cached_policy(str(Settings().policy_file)).exchange.purposes


def token(settings: Settings, role: Role, region: str, department: str | None = None) -> dict[str, str]:
    principal = Principal(subject=f"{role.value}-{region}", role=role, region=region, department=department)
    return {"Authorization": f"Bearer {issue_token(settings, principal)}"}


def born(years: int) -> str:
    """A birth date that makes the member `years` old today (born on 1 January)."""
    return date(date.today().year - years, 1, 1).isoformat()


def member(household: str, n: int, age: int, labour: str, in_school: bool = False) -> dict[str, Any]:
    return {
        "member_id": f"{household}-{n}",
        "name": f"成员{n}",
        "id_number": f"61032719800101{n:03d}1",
        "birth_date": born(age),
        "labour_capacity": labour,
        "in_school": in_school,
    }


def family(household: str, *extra: dict[str, Any]) -> bytes:
    """Head 45 (full), spouse 43 (partial), grandparent 72, student 18 and child 10 in school, toddler 3."""
    members = [
        member(household, 1, 45, "full"),
        member(household, 2, 43, "partial"),
        member(household, 3, 72, "none"),
        member(household, 4, 18, "none", in_school=True),
        member(household, 5, 10, "none", in_school=True),
        member(household, 6, 3, "none"),
        *extra,
    ]
    record = HouseholdRecordIn.model_validate(
        {
            "household_id": household,
            "region_code": VILLAGE,
            "poverty_status": "general",
            "members": members,
            "annual_net_income_cny": 20_000,
            "head_member_id": members[0]["member_id"],
        }
    )
    return registry_record_message(REGISTRY_CLIENT, record, f"reg-{uuid.uuid4().hex[:8]}", contracts.now_utc())


def case_event(
    name: str, case_id: str, household: str, step: str, details: dict[str, Any], task: dict[str, Any] | None = None
) -> bytes:
    event = contracts.CaseEventMessage(
        schema_version=contracts.SCHEMA_VERSION,
        event_key=f"{case_id}:{name}:{uuid.uuid4().hex[:6]}",
        name=name,
        case_id=case_id,
        household_id=household,
        region_code=VILLAGE,
        step=step,
        status={"screen": "screening", "verify": "verifying", "assist": "assisting", "close": "closed"}[step],
        details=contracts.to_struct(details),
    )
    event.occurred_at.CopyFrom(contracts.to_timestamp(contracts.now_utc()))
    if task is not None:
        event.task.CopyFrom(contracts.case_events_pb2.TaskRef(**task))
    return event.SerializeToString()


def inclusion(case_id: str, household: str, risk_types: list[str]) -> list[bytes]:
    facts = {"category": "marginal", "risk_types": risk_types}
    return [
        case_event("case.opened", case_id, household, "screen", {"level": "high", "category": "marginal"}),
        case_event("case.step_changed", case_id, household, "verify", {"from": "screen", "to": "verify", **facts}),
        case_event("case.step_changed", case_id, household, "assist", {"from": "verify", "to": "assist", **facts}),
    ]


@dataclass
class Exchange:
    url: str
    settings: Settings
    http: httpx.AsyncClient
    county: dict[str, str]
    producer: Any
    db: asyncpg.Connection

    async def case_fact(self, case_id: str, column: str) -> Any:
        """What notify's case-event consumer recorded about a case (None until then)."""
        return await self.db.fetchval(f"select {column} from exchange_case_facts where case_id = $1", case_id)

    async def registry_members(self, household: str) -> int:
        """How many members the registry consumer stored for a household (0 until then)."""
        found = await self.db.fetchval(
            "select jsonb_array_length(members) from exchange_households where household_id = $1", household
        )
        return int(found or 0)

    async def publish(self, topic: str, key: str, *values: bytes) -> None:
        for value in values:
            await self.producer.send_and_wait(topic, value, key=key.encode())

    async def subscribe(self, name: str, **extra: Any) -> httpx.Response:
        body = {"department": PURPOSES[name].department, "purpose": name, "mode": "pull", **extra}
        return await self.http.post(f"{self.url}/v1/exchange/subscriptions", json=body, headers=self.county)

    async def pull(self, purpose: str, since: int = 0) -> httpx.Response:
        officer = token(self.settings, Role.DEPARTMENT_OFFICER, "610327", PURPOSES[purpose].department)
        return await self.http.get(
            f"{self.url}/v1/exchange/{purpose}/changes", params={"since": since}, headers=officer
        )

    async def records(self, purpose: str) -> list[dict[str, Any]]:
        response = await self.pull(purpose)
        assert response.status_code == 200, response.text
        return [c["record"] for c in response.json()["changes"]]


@pytest.fixture
async def running(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> AsyncIterator[tuple[Exchange, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append((dict(request.headers), await request.body()))
        return JSONResponse({"ok": True})

    settings: Settings = await provision(
        isolated_settings(
            Settings,
            consumer_group=unique("notify"),
            delivery_poll_seconds=0.1,
            delivery_backoff_base_seconds=0.05,
            notify_allowed_networks="127.0.0.0/8",  # the receiver is on loopback
        ),
        SERVICE,
    )
    producer = kafka.make_producer(settings)
    await producer.start()
    receiver = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    db = await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": settings.db_schema or ""})
    try:
        async with (
            serve(receiver) as hook_url,
            serve(create_app(settings)) as url,
            httpx.AsyncClient(timeout=10) as http,
        ):
            county = token(settings, Role.COUNTY_OFFICER, "610327")
            running = Exchange(url, settings, http, county, producer, db)
            push = await running.subscribe(
                "medical_insurance_contribution_subsidy", mode="push", url=f"{hook_url}/hook", secret=SECRET
            )
            assert push.status_code == 201, push.text
            for purpose in PURPOSES:
                assert (await running.subscribe(purpose)).status_code == 201
            yield running, received
    finally:
        await producer.stop()
        await db.close()


async def test_each_department_purpose_selects_its_households_and_members(
    running: tuple[Exchange, list[tuple[dict[str, str], bytes]]],
) -> None:
    exchange, received = running
    household, case_id = f"H{VILLAGE}042", f"C{uuid.uuid4().hex[:12]}"
    s = exchange.settings
    await exchange.publish(s.topic_household_events, household, family(household))
    await exchange.publish(s.topic_case_events, household, *inclusion(case_id, household, ["housing", "disability"]))

    expected = {
        "medical_insurance_contribution_subsidy": {1, 2, 3, 4, 5, 6},
        "employment_services": {1, 2},
        "housing_safety_appraisal": {None},
        "rain_dew_plan": {4},
        "school_age_members": {5},
        "minimum_living_allowance_check": {None},
        "extreme_poverty_support_check": set(),
        "temporary_assistance": set(),
        "disability_support": {2, 3, 4, 5, 6},
    }
    assert set(expected) == set(PURPOSES)

    async def selected() -> dict[str, set[int | None]]:
        found = {}
        for purpose in expected:
            records = await exchange.records(purpose)
            found[purpose] = {int(r["member_id"].rsplit("-", 1)[1]) if r.get("member_id") else None for r in records}
        return found if found == expected else {}

    await eventually(selected, timeout=30, message="every purpose's records")
    for purpose, policy in PURPOSES.items():
        for record in await exchange.records(purpose):
            assert set(record) == {"change", "measure", "coverage_gap", *policy.fields}, purpose
            assert record["change"] == "included" and record["case_id"] == case_id
    [student] = await exchange.records("rain_dew_plan")
    assert student["age"] == 18 and student["in_school"] is True and student["id_number_masked"].endswith("0041")
    assert "birth_date" not in student and "id_number" not in student
    [household_record] = await exchange.records("minimum_living_allowance_check")
    assert (household_record["members"], household_record["labour_members"]) == (6, 2)
    assert household_record["risk_types"] == ["housing", "disability"]

    await eventually(lambda: _async(len(received) >= 6), timeout=30, message="pushed to medical insurance")
    headers, body = received[0]
    expected_signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-safetynet-signature"], expected_signature)
    assert headers["x-safetynet-event"] == "exchange.medical_insurance_contribution_subsidy"
    pushed = json.loads(body)
    assert pushed["purpose"] == "medical_insurance_contribution_subsidy" and pushed["record"]["case_id"] == case_id

    # the inclusion redelivered adds nothing (the closure after it shows it was consumed)
    cursor = (await exchange.pull("medical_insurance_contribution_subsidy")).json()["next_since"]
    closed = case_event("case.closed", case_id, household, "close", {})
    await exchange.publish(s.topic_case_events, household, inclusion(case_id, household, ["housing"])[-1], closed)
    await eventually(lambda: exchange.case_fact(case_id, "closed_at"), message="closure consumed")
    assert (await exchange.pull("medical_insurance_contribution_subsidy", cursor)).json()["changes"] == []
    assert len(received) == 6


async def test_registry_records_after_the_inclusion_and_measure_tasks_add_records(
    running: tuple[Exchange, list[tuple[dict[str, str], bytes]]],
) -> None:
    exchange, _ = running
    s = exchange.settings
    household, case_id = f"H{VILLAGE}077", f"C{uuid.uuid4().hex[:12]}"
    await exchange.publish(s.topic_case_events, household, *inclusion(case_id, household, ["illness"]))
    await eventually(lambda: exchange.case_fact(case_id, "included_at"), message="inclusion consumed")
    assert await exchange.records("school_age_members") == []  # no registry record yet: nothing to select

    await exchange.publish(s.topic_household_events, household, family(household))

    async def school_age() -> list[dict[str, Any]]:
        return [r for r in await exchange.records("school_age_members") if r["case_id"] == case_id]

    [child] = await eventually(school_age, message="registry record after the inclusion")
    assert child["member_id"] == f"{household}-5" and child["age"] == 10

    newborn_sibling = member(household, 7, 7, "none", in_school=True)  # a correction adds a member
    await exchange.publish(s.topic_household_events, household, family(household, newborn_sibling))

    async def two_children() -> bool:
        return len(await school_age()) == 2

    await eventually(two_children, message="the added member selected")

    task = {
        "task_id": "T-measure-1",
        "kind": "measure",
        "role": "department_officer",
        "region_code": VILLAGE[:6],
        "department": "medical_insurance",
    }
    assigned = case_event(
        "task.assigned",
        case_id,
        household,
        "assist",
        {"measure_type": "medical_assistance", "member_id": f"{household}-3"},
        task,
    )
    not_served = case_event(
        "task.assigned", case_id, household, "assist", {"measure_type": "employment"}, {**task, "task_id": "T-2"}
    )
    await exchange.publish(s.topic_case_events, household, assigned, not_served)

    async def measures() -> list[dict[str, Any]]:
        records = await exchange.records("medical_insurance_contribution_subsidy")
        return [r for r in records if r["change"] == "measure" and r["case_id"] == case_id]

    [measure] = await eventually(measures, message="the measure task's record")
    assert measure["measure"]["task_id"] == "T-measure-1" and measure["measure"]["measure_type"] == "medical_assistance"
    assert measure["member_id"] == f"{household}-3" and measure["name"] == "成员3"
    assert all(r["change"] == "included" for r in await exchange.records("employment_services"))  # not served

    await exchange.publish(s.topic_case_events, household, case_event("case.closed", case_id, household, "close", {}))
    await eventually(lambda: exchange.case_fact(case_id, "closed_at"), message="closure consumed")
    cursor = (await exchange.pull("school_age_members")).json()["next_since"]
    another = member(household, 8, 9, "none", in_school=True)
    await exchange.publish(s.topic_household_events, household, family(household, newborn_sibling, another))
    await eventually(lambda: _equal(exchange.registry_members(household), 8), message="registry update consumed")
    assert (await exchange.pull("school_age_members", cursor)).json()["changes"] == []  # the case is closed


async def test_subscriptions_and_pulls_are_checked_and_logged(
    running: tuple[Exchange, list[tuple[dict[str, str], bytes]]],
) -> None:
    exchange, _ = running
    wrong = await exchange.subscribe("school_age_members", department="civil_affairs")
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "department"]
    unknown = await exchange.subscribe("minimum_living_allowance_check", purpose="bogus")
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "purpose"]
    officer = token(exchange.settings, Role.DEPARTMENT_OFFICER, "610327", "civil_affairs")
    as_officer = await exchange.http.post(
        f"{exchange.url}/v1/exchange/subscriptions",
        json={"department": "civil_affairs", "purpose": "temporary_assistance", "mode": "pull"},
        headers=officer,
    )
    assert as_officer.status_code == 403
    url = f"{exchange.url}/v1/exchange/temporary_assistance/changes"
    for denied in (
        token(exchange.settings, Role.DEPARTMENT_OFFICER, "610327", "education"),
        exchange.county,
        token(exchange.settings, Role.DEPARTMENT_OFFICER, "610328", "civil_affairs"),  # no subscription there
    ):
        assert (await exchange.http.get(url, headers=denied)).status_code == 403
    missing = await exchange.http.get(f"{exchange.url}/v1/exchange/bogus/changes", headers=officer)
    assert missing.status_code == 404

    assert (await exchange.pull("temporary_assistance")).status_code == 200
    listed = await exchange.http.get(f"{exchange.url}/v1/exchange/purposes", headers=officer)
    assert {p["purpose"] for p in listed.json()["purposes"]} == set(PURPOSES)
    rule = next(p for p in listed.json()["purposes"] if p["purpose"] == "employment_services")["members"]
    assert (rule["min_age"], rule["max_age"], rule["labour_capacity"]) == (16, 60, ["full", "partial"])
    log = await exchange.http.get(f"{exchange.url}/v1/exchange/access", headers=exchange.county)
    assert log.status_code == 200, log.text
    entries = [(e["purpose"], e["mode"], e["actor"], e["records"]) for e in log.json()]
    assert ("temporary_assistance", "pull", "department_officer-610327", 0) in entries


async def _equal(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _async(value: bool) -> bool:
    return value

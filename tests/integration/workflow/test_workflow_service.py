"""The workflow service on the real dev server, Kafka and Postgres: assessments open cases, the task
API is scoped by region and role, REST completions move the case, one household has one case."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from safetynet_core.contracts import CaseEventMessage, RiskAssessmentMessage
from safetynet_core.kafka import header, make_consumer, make_producer
from safetynet_core.policy import load_policy
from safetynet_core.settings import DEFAULT_POLICY_FILE
from safetynet_core.testing import eventually, form_token, sample_assessment, serve, unique
from safetynet_core.vocabulary import GUARANTEES
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.info import SERVICE
from safetynet_workflow.inspection.models import InspectionInput
from safetynet_workflow.inspection.workflow import InspectionTaskWorkflow
from safetynet_workflow.main import create_app
from safetynet_workflow.settings import Settings
from safetynet_workflow.temporal import connect_temporal
from safetynet_workflow.ui.session import SESSION_COOKIE

pytestmark = pytest.mark.integration

VILLAGE, OTHER_VILLAGE, TOWNSHIP = "610327100201", "610327100202", "610327100"
PASSWORD = "correct horse battery staple"
# These cases open without a registry record: the case need not wait for one (its facts stay unknown).
NO_REGISTRY_WAIT = {"household_facts_wait_seconds": 0.5}
VISIT = {
    "visitors": ["Li Wei", "Wang Fang"],
    "consent": True,
    "verified_annual_income_cny": 12000,
    "members_present": 3,
    "notes": "",
    "guarantees": dict.fromkeys(GUARANTEES, True),
}


def assessment(household_id: str, assessment_id: str | None = None, level: str = "high") -> bytes:
    return sample_assessment(household_id, VILLAGE, assessment_id=assessment_id or uuid.uuid4().hex, level=level)


async def login(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await http.post("/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def open_tasks(
    http: httpx.AsyncClient, auth: dict[str, str], household_id: str, kind: str | None = None
) -> list[dict[str, Any]]:
    response = await http.get("/v1/tasks", headers=auth, params={"kind": kind} if kind else {})
    assert response.status_code == 200, response.text
    return [t for t in response.json()["tasks"] if t["household_id"] == household_id]


async def complete(
    http: httpx.AsyncClient, auth: dict[str, str], household_id: str, kind: str, form: dict[str, Any]
) -> dict[str, Any]:
    tasks = await eventually(
        lambda: open_tasks(http, auth, household_id, kind), timeout=30, message=f"{kind} task visible"
    )
    response = await http.post(f"/v1/tasks/{tasks[0]['task_id']}/complete", headers=auth, json=form)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_assessment_to_scoped_tasks_and_rest_driven_case(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    settings: Settings = isolated_settings(
        Settings,
        workflow_task_queue=unique("wfq"),
        inspection_enabled=False,
        gauge_refresh_seconds=1,
        **NO_REGISTRY_WAIT,
    )
    await provision(settings, SERVICE)
    for username, role, region in (
        ("cadre", "village_cadre", VILLAGE),
        ("stranger", "village_cadre", OTHER_VILLAGE),
        ("township", "township_officer", TOWNSHIP),
    ):
        await create_user(settings, username=username, password=PASSWORD, role=role, region=region)
    household = unique("H")
    producer = make_producer(settings)
    await producer.start()
    try:
        async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
            await producer.send_and_wait(
                settings.topic_risk_assessments, assessment(household, "a-1"), key=household.encode()
            )
            newer = RiskAssessmentMessage.FromString(assessment(household))
            newer.schema_version += 1
            for poison in (b"\x00not protobuf", assessment(household, level="apocalyptic"), newer.SerializeToString()):
                await producer.send_and_wait(settings.topic_risk_assessments, poison, key=b"x")
            cadre, stranger, township = [await login(http, u) for u in ("cadre", "stranger", "township")]
            [screen] = await eventually(
                lambda: open_tasks(http, cadre, household, "screen"),
                timeout=45,
                message="screen task in the village cadre's inbox",
            )
            assert (screen["role"], screen["region_code"], screen["status"]) == (
                "village_cadre",
                VILLAGE,
                "open",
            )
            assert await open_tasks(http, stranger, household) == []
            assert await open_tasks(http, township, household) == []
            assert (await http.post(f"/v1/tasks/{screen['task_id']}/claim", headers=stranger)).status_code == 404
            assert (await http.get(f"/v1/cases/{screen['case_id']}", headers=stranger)).status_code == 404
            bad = await http.get("/v1/tasks", headers=cadre, params={"region": OTHER_VILLAGE})
            assert bad.status_code == 403

            claimed = await http.post(f"/v1/tasks/{screen['task_id']}/claim", headers=cadre)
            assert claimed.status_code == 200 and claimed.json()["assignee"] == "cadre"
            invalid = await http.post(
                f"/v1/tasks/{screen['task_id']}/complete", headers=cadre, json={"decision": "maybe"}
            )
            assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "decision"]
            await complete(http, cadre, household, "screen", {"decision": "proceed"})
            bad_visit = await complete_expecting_422(http, cadre, household)
            assert {tuple(d["loc"]) for d in bad_visit} >= {("body", "visitors"), ("body", "consent")}
            await complete(http, cadre, household, "home_visit", VISIT)
            await complete(http, township, household, "data_comparison", {"consistent": True, "notes": ""})

            # The same household flagged twice more (one a redelivery): still one case, two assessments.
            for assessment_id in ("a-2", "a-1"):
                await producer.send_and_wait(
                    settings.topic_risk_assessments,
                    assessment(household, assessment_id),
                    key=household.encode(),
                )

            async def case_detail() -> dict[str, Any] | None:
                listed = (await http.get("/v1/cases", headers=cadre)).json()["cases"]
                mine = [c for c in listed if c["household_id"] == household]
                assert len(mine) == 1, mine
                detail = (await http.get(f"/v1/cases/{mine[0]['case_id']}", headers=cadre)).json()
                names = [e["name"] for e in detail["timeline"]]
                ready = len(detail["assessments"]) == 2 and "notice.published" in names
                return detail if ready else None

            detail = await eventually(case_detail, timeout=30, message="second assessment joined, notice running")

            assert detail is not None
            assert detail["step"] == "verify" and detail["status"] == "verifying"
            assert detail["assessments"][0]["reasons"][0]["rule"] == "medical_warning"
            assert [s["name"] for s in detail["steps"]] == ["case.opened", "case.step_changed"]
            case_url = f"/cases/{detail['case_id']}"
            empty = await http.post(f"/v1{case_url}/objections", headers=cadre, json={"reason": ""})
            assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "reason"]
            ui = {"Cookie": f"{SESSION_COOKIE}={cadre['Authorization'].removeprefix('Bearer ')}"}
            shown = await http.get(case_url, headers=ui)
            assert shown.status_code == 200 and 'id="form-objection"' in shown.text
            csrf = form_token(shown.text)
            refused = await http.post(f"{case_url}/objections", data={"reason": "", **csrf}, headers=ui)
            assert refused.status_code == 422 and 'data-error-for="reason"' in refused.text
            reason = {"reason": "the family runs a shop"}
            forged = await http.post(f"{case_url}/objections", data=reason, headers=ui)
            assert forged.status_code == 403  # no CSRF token: nothing filed
            objection = await http.post(f"{case_url}/objections", data={**reason, **csrf}, headers=ui)
            assert objection.status_code == 303, objection.text
            assert objection.headers["location"] == f"{case_url}?objected=1"
            await eventually(
                lambda: open_tasks(http, cadre, household, "home_visit"),
                timeout=30,
                message="objection sent the case back to the home visit",
            )
            page = await http.get("/")  # the UI: a login first
            assert page.status_code == 303 and page.headers["location"].startswith("/login")
            metrics = (await http.get("/metrics")).text
            assert "safetynet_workflow_cases_opened_total" in metrics
    finally:
        await producer.stop()
    await assert_case_events_and_dead_letter(settings, household)


async def complete_expecting_422(http: httpx.AsyncClient, auth: dict[str, str], household: str) -> list[Any]:
    [visit] = await eventually(
        lambda: open_tasks(http, auth, household, "home_visit"), timeout=30, message="home visit task"
    )
    response = await http.post(
        f"/v1/tasks/{visit['task_id']}/complete",
        headers=auth,
        json={**VISIT, "visitors": ["alone"], "consent": False},
    )
    assert response.status_code == 422, response.text
    return list(response.json()["detail"])


async def assert_case_events_and_dead_letter(settings: Settings, household: str) -> None:
    consumer = make_consumer(
        settings,
        unique("check"),
        settings.topic_case_events,
        settings.dlq_topic(settings.topic_risk_assessments, "workflow"),
    )
    await consumer.start()
    names: list[str] = []
    keys: set[str] = set()
    dead: list[str] = []
    try:

        async def drained() -> bool:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.topic == settings.topic_case_events:
                        event = CaseEventMessage.FromString(record.value)
                        assert event.household_id == household and event.event_key not in keys
                        keys.add(event.event_key)
                        names.append(event.name)
                    else:
                        dead.append(header(record, "dlq.reason") or "")
            return len(dead) >= 3 and "notice.published" in names

        await eventually(drained, timeout=30, message="case events and the dead letter")
    finally:
        await consumer.stop()
    assert names[:2] == ["case.opened", "task.assigned"]
    assert {"case.step_changed", "notice.published"} <= set(names)
    assert sorted(dead) == ["schema_version", "undecodable", "unknown_type"]


def short_notice_policy(tmp_path: Path) -> Path:
    """The default policy with a three-second public notice, so a REST walk can pass through it."""
    data = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    data["workflow"]["public_notice_days"] = 3 / 86400
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


async def test_rest_walk_to_evaluate_with_department_measures_and_reopen(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any], tmp_path: Path
) -> None:
    settings: Settings = isolated_settings(
        Settings,
        workflow_task_queue=unique("wfq"),
        inspection_enabled=False,
        policy_file=short_notice_policy(tmp_path),
        **NO_REGISTRY_WAIT,
    )
    await provision(settings, SERVICE)
    people = (
        ("cadre", "village_cadre", VILLAGE, None),
        ("township", "township_officer", TOWNSHIP, None),
        ("county", "county_officer", "610327", None),
        ("hr", "department_officer", "610327", "human_resources"),
        ("rr", "department_officer", "610327", "rural_revitalization"),
        ("auditor", "auditor", "610327", None),
    )
    for username, role, region, department in people:
        await create_user(
            settings, username=username, password=PASSWORD, role=role, region=region, department=department
        )
    walked, dismissed = unique("H"), unique("H")
    producer = make_producer(settings)
    await producer.start()
    try:
        async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
            for household in (walked, dismissed):
                await producer.send_and_wait(
                    settings.topic_risk_assessments, assessment(household), key=household.encode()
                )
            auth = {u: await login(http, u) for u, *_ in people}
            await complete(http, auth["cadre"], walked, "screen", {"decision": "proceed"})
            await complete(http, auth["cadre"], walked, "home_visit", VISIT)
            await complete(http, auth["township"], walked, "data_comparison", {"consistent": True, "notes": ""})
            await complete(http, auth["township"], walked, "township_review", {"decision": "approve"})
            await complete(http, auth["county"], walked, "county_approval", {"decision": "approve"})
            plan: dict[str, Any] = {
                "measures": [
                    {"type": "employment", "department": "human_resources", "description": "factory job"},
                    {
                        "type": "microcredit",
                        "department": "rural_revitalization",
                        "description": "loan",
                        "amount_cny": 20000,
                    },
                ],
                "responsible": "cadre",
            }
            bad_plan: dict[str, Any] = {**plan, "measures": [{**plan["measures"][1], "amount_cny": 80000}]}
            [plan_task] = await eventually(
                lambda: open_tasks(http, auth["township"], walked, "assistance_plan"),
                timeout=30,
                message="assistance plan task",
            )
            rejected = await http.post(
                f"/v1/tasks/{plan_task['task_id']}/complete", headers=auth["township"], json=bad_plan
            )
            assert rejected.status_code == 422
            assert rejected.json()["detail"][0]["loc"] == ["body", "measures", 0, "amount_cny"]
            await complete(http, auth["township"], walked, "assistance_plan", plan)
            [hr_task] = await eventually(
                lambda: open_tasks(http, auth["hr"], walked, "measure"),
                timeout=30,
                message="the human resources officer's measure task",
            )
            assert hr_task["role"] == "department_officer" and hr_task["region_code"] == "610327"
            assert len(await open_tasks(http, auth["rr"], walked, "measure")) == 1
            assert await open_tasks(http, auth["county"], walked, "measure") == []
            for officer in ("hr", "rr"):
                await complete(http, auth[officer], walked, "measure", {"started_on": "2026-03-01", "notes": ""})

            async def evaluating() -> dict[str, Any] | None:
                listed = (await http.get("/v1/cases", headers=auth["county"], params={"step": "evaluate"})).json()
                return next((c for c in listed["cases"] if c["household_id"] == walked), None)

            case = await eventually(evaluating, timeout=30, message="the case reached evaluate")

            assert case is not None
            detail = (await http.get(f"/v1/cases/{case['case_id']}", headers=auth["county"])).json()
            assert [s["details"].get("to") for s in detail["steps"][1:]] == ["verify", "assist", "evaluate"]
            assert detail["identified_at"] and not detail["identification_breached"]
            assert len([t for t in detail["tasks"] if t["status"] == "done"]) == 8

            # Dismissed, then a failed inspection reopens the same case (back to verification).
            await complete(http, auth["cadre"], dismissed, "screen", {"decision": "dismiss", "reason": "moved"})

            async def closed() -> dict[str, Any] | None:
                listed = (await http.get("/v1/cases", headers=auth["cadre"], params={"status": "closed"})).json()
                return next((c for c in listed["cases"] if c["household_id"] == dismissed), None)

            old = await eventually(closed, timeout=30, message="dismissed case closed")

            assert old is not None
            assert old["close_reason"] == "dismissed"
            client = await connect_temporal(settings)
            await client.start_workflow(
                InspectionTaskWorkflow.run,
                InspectionInput(
                    case_id=old["case_id"],
                    household_id=dismissed,
                    region_code=VILLAGE,
                    close_reason="dismissed",
                    round=0,
                    policy=load_policy(settings.policy_file).workflow,
                ),
                id=f"inspection-{old['case_id']}-0",
                task_queue=settings.workflow_task_queue,
            )
            await complete(http, auth["auditor"], dismissed, "inspection", {"result": "fail", "findings": "wrong"})
            [visit] = await eventually(
                lambda: open_tasks(http, auth["cadre"], dismissed, "home_visit"),
                timeout=30,
                message="the reopened case's home visit",
            )
            assert visit["case_id"] == old["case_id"]
            reopened = (await http.get(f"/v1/cases/{old['case_id']}", headers=auth["cadre"])).json()
            assert reopened["status"] == "verifying" and reopened["close_reason"] is None
    finally:
        await producer.stop()


async def test_flagged_after_close_opens_a_new_case(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    settings: Settings = isolated_settings(
        Settings, workflow_task_queue=unique("wfq"), inspection_enabled=False, **NO_REGISTRY_WAIT
    )
    await provision(settings, SERVICE)
    await create_user(settings, username="cadre", password=PASSWORD, role="village_cadre", region=VILLAGE)
    household = unique("H")
    producer = make_producer(settings)
    await producer.start()
    try:
        async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
            cadre = await login(http, "cadre")
            await producer.send_and_wait(settings.topic_risk_assessments, assessment(household), key=household.encode())
            await complete(http, cadre, household, "screen", {"decision": "dismiss", "reason": "duplicate"})

            async def cases_of() -> list[dict[str, Any]]:
                listed = (await http.get("/v1/cases", headers=cadre)).json()["cases"]
                return [c for c in listed if c["household_id"] == household]

            await eventually(lambda: _all_closed(cases_of), timeout=30, message="first case closed")
            await producer.send_and_wait(settings.topic_risk_assessments, assessment(household), key=household.encode())
            both = await eventually(lambda: _count(cases_of, 2), timeout=30, message="a second case")
            assert both is not None
            assert {c["status"] for c in both} == {"closed", "screening"}
    finally:
        await producer.stop()


async def _all_closed(probe: Callable[[], Any]) -> bool:
    rows = await probe()
    return bool(rows) and all(r["status"] == "closed" for r in rows)


async def _count(probe: Callable[[], Any], wanted: int) -> list[dict[str, Any]] | None:
    rows: list[dict[str, Any]] = await probe()
    return rows if len(rows) == wanted else None

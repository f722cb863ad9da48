"""Every route of every service (issue 20: "a new route without a guard fails the suite"), walked in process
on fresh schemas with objects of one region seeded in each service: no credential, a malformed one, Basic,
a forged admin token (HS256 with the old development secret), an admin token signed by another key, an
expired one and a revoked session are all refused (401, or the login page); a token of each role from
another county gets 403/404 for the region's objects and lists without them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from safetynet_core.auth import verify_claims
from safetynet_core.testing import unique
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_intake.main import create_app as create_intake
from safetynet_intake.samples import household_record
from safetynet_intake.settings import Settings as IntakeSettings
from safetynet_notify.info import SERVICE as NOTIFY
from safetynet_notify.main import create_app as create_notify
from safetynet_notify.settings import Settings as NotifySettings
from safetynet_risk.info import SERVICE as RISK
from safetynet_risk.main import create_app as create_risk
from safetynet_risk.settings import Settings as RiskSettings
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.info import SERVICE as WORKFLOW
from safetynet_workflow.main import create_app as create_workflow
from safetynet_workflow.settings import Settings as WorkflowSettings
from safetynet_workflow.ui.csrf import CSRF_FIELD, session_csrf
from tests.security.conftest import StartService
from tests.security.support import PASSWORD, VILLAGE, Running, project_case, token_for
from tests.security.walk import (
    OUTSIDER_DEPARTMENT,
    OUTSIDERS,
    OWN_REGION,
    OWN_SESSION,
    UNSAFE,
    Credentials,
    Route,
    as_cookie,
    assert_refused_to_outsider,
    assert_refused_without_credentials,
    routes_of,
)

pytestmark = pytest.mark.integration
PURPOSE = "minimum_living_allowance_check"  # a civil_affairs exchange purpose


@dataclass
class Stack:
    services: dict[str, Running]
    routes: list[Route]
    ids: dict[str, str]  # path parameter -> the seeded object of VILLAGE
    credentials: Credentials

    @property
    def markers(self) -> set[str]:
        """What must not show up in an outsider's answer: the ids of VILLAGE's objects."""
        return {v for k, v in self.ids.items() if k.endswith("_id") and k != "member_id"}

    def bodies(self) -> dict[tuple[str, str], dict[str, Any]]:
        """A valid body for every state-changing route (aimed at VILLAGE's objects): the walk reaches the
        route's own checks, not its validation."""
        household = self.ids["household_id"]
        evidence = [{"kind": "certificate", "reference": "CERT-1"}]
        correction = {"household_id": household, "field": "phone", "value": "13900000000", "reason": "r",
                      "evidence": evidence}  # fmt: skip
        finding = {"source": "audit", "source_ref": unique("A"), "region_code": VILLAGE, "problem": "p",
                   "household_id": household}  # fmt: skip
        sweep = {"kind": "concentrated", "region_code": VILLAGE[:9]}
        measure = {"started_on": "2026-12-01", "notes": "n"}
        hook = {"url": "http://127.0.0.1:9/hook", "secret": "s" * 16, "events": ["case.opened"],
                "region_prefix": VILLAGE[:6]}  # fmt: skip
        feed = {"purpose": PURPOSE, "department": OUTSIDER_DEPARTMENT, "mode": "pull", "region_prefix": VILLAGE[:6]}
        correction_form = {**{k: v for k, v in correction.items() if k != "evidence"},
                           "evidence.0.kind": "certificate", "evidence.0.reference": "C"}  # fmt: skip
        return {
            ("POST", "/v1/tasks/{task_id}/claim"): {},
            ("POST", "/v1/tasks/{task_id}/complete"): measure,
            ("POST", "/v1/cases/{case_id}/objections"): {"reason": "r"},
            ("POST", "/v1/cases/{case_id}/close"): {"reason": "natural", "note": "n"},
            ("POST", "/v1/sweeps"): sweep,
            ("POST", "/v1/corrections"): correction,
            ("POST", "/v1/ledger"): finding,
            ("PUT", "/v1/households/{household_id}/grid"): {"grid_id": "G-1"},
            ("POST", "/v1/households/{household_id}/members/{member_id}/reveal"): {"reason": "核实身份信息"},
            ("POST", "/v1/subscriptions"): hook,
            ("DELETE", "/v1/subscriptions/{subscription_id}"): {},
            ("POST", "/v1/exchange/subscriptions"): feed,
            # the UI's forms (fields as the templates name them)
            ("POST", "/tasks/{task_id}/claim"): {},
            ("POST", "/tasks/{task_id}/complete"): measure,
            ("POST", "/cases/{case_id}/close"): {"reason": "natural", "note": "n"},
            ("POST", "/cases/{case_id}/reveal"): {"member_id": "M1", "reason": "核实身份信息"},
            ("POST", "/cases/{case_id}/objections"): {"reason": "r"},
            ("POST", "/sweeps/new"): sweep,
            ("POST", "/corrections/new"): correction_form,
            ("POST", "/ledger/new"): finding,
            ("POST", "/v1/reports/submissions"): {"region": VILLAGE[:9], "period": "week",
                                                  "period_start": monday().isoformat()},
            ("POST", "/v1/reports/submissions/{submission_id}/review"): {"decision": "approve"},
            ("POST", "/reports/submissions"): {"period": "week", "period_start": monday().isoformat()},
            ("POST", "/reports/submissions/{submission_id}/review"): {"decision": "approve"},
        }  # fmt: skip


def monday() -> date:
    """This week's Monday (a week's report starts on it)."""
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday())


async def seed(services: dict[str, Running]) -> dict[str, str]:
    """One object of every kind a path names, in VILLAGE, in the service that owns it."""
    intake, risk, workflow, notify = (services[s] for s in ("intake", "risk", "workflow", "notify"))
    household, now = unique("H"), datetime.now(UTC)
    registry = await intake.intake_key("rural_revitalization")
    put = await intake.http.put(f"/v1/households/{household}", headers=registry,
                                json=household_record(household, region_code=VILLAGE))  # fmt: skip
    assert put.status_code == 200, put.text
    await risk.db.execute(
        "insert into assessments (assessment_id, household_id, region_code, level, score, risk_types, warnings,"
        " reasons, opens_case, policy_version, event_ids, assessed_at, as_of, fact_seq, income_pc,"
        " adjusted_income_pc, poverty_status) values ($1, $2, $3, 'high', 70, '{}', '{}', '[]', true, 't', '{}',"
        " $4, $4, 1, 5000, 5000, 'lifted')",
        unique("A"), household, VILLAGE, now,
    )  # fmt: skip
    case_id = await project_case(workflow.db, measure_by=OUTSIDER_DEPARTMENT, household=household)
    task_id = await workflow.db.fetchval("select task_id from tasks where case_id = $1", case_id)
    ids = {"household_id": household, "member_id": "M1", "case_id": case_id, "task_id": task_id,
           "sweep_id": unique("S"), "correction_id": unique("R"), "item_id": unique("L"), "village": VILLAGE,
           "purpose": PURPOSE, "event_type": "medical_expense", "event_id": unique("E"), "code": VILLAGE[:6],
           "fmt": "csv", "submission_id": unique("S")}  # fmt: skip
    await workflow.db.execute(
        "insert into report_submissions (submission_id, region_code, period, period_start, period_end, due_at,"
        " status, late, summary, submitted_by, submitted_at) values ($1, $2, 'week', $3, $4, $5, 'submitted',"
        " false, '{}', 'someone', $5)",
        ids["submission_id"], VILLAGE[:9], monday(), monday() + timedelta(days=6), now,
    )  # fmt: skip
    await workflow.db.execute(
        "insert into sweeps (sweep_id, kind, region_code, title, target, status, launched_by, created_at)"
        " values ($1, 'concentrated', $2, 't', '[]', 'running', 'someone', $3)",
        ids["sweep_id"], VILLAGE, now,
    )  # fmt: skip
    await workflow.db.execute(
        "insert into corrections (correction_id, household_id, region_code, field, value, reason, evidence,"
        " status, filed_by, created_at) values ($1, $2, $3, 'phone', '\"13900000000\"', 'r', '[]',"
        " 'under_review', 'someone', $4)",
        ids["correction_id"], household, VILLAGE, now,
    )  # fmt: skip
    await workflow.db.execute(
        "insert into ledger_items (item_id, source, source_ref, household_id, region_code, problem, status,"
        " created_by, created_at) values ($1, 'audit', $1, $2, $3, 'p', 'open', 'someone', $4)",
        ids["item_id"], household, VILLAGE, now,
    )  # fmt: skip
    county = token_for(notify.settings, "county_officer", VILLAGE[:6])
    hook = {"url": "http://127.0.0.1:9/hook", "secret": "s" * 16, "events": ["case.opened"], "region_prefix": VILLAGE}
    created = await notify.http.post("/v1/subscriptions", headers=county, json=hook)
    assert created.status_code == 201, created.text
    ids["subscription_id"] = created.json()["subscription_id"]
    return ids


@pytest.fixture
async def stack(start_service: StartService) -> AsyncIterator[Stack]:
    async with AsyncExitStack() as exits:
        intake = await exits.enter_async_context(start_service(INTAKE, IntakeSettings, create_intake))
        risk = await exits.enter_async_context(start_service(RISK, RiskSettings, create_risk, consumer_enabled=False))
        notify = await exits.enter_async_context(
            start_service(NOTIFY, NotifySettings, create_notify, notify_allowed_networks="127.0.0.0/8")
        )
        light = {"run_worker": False, "run_consumer": False, "inspection_enabled": False,
                 "intake_url": intake.url, "notify_url": notify.url}  # fmt: skip
        workflow = await exits.enter_async_context(start_service(WORKFLOW, WorkflowSettings, create_workflow, **light))
        services = {"intake": intake, "risk": risk, "workflow": workflow, "notify": notify}
        routes = []
        for name, running in services.items():
            schema = (await running.http.get("/openapi.json")).json()
            routes += routes_of(name, running.app, schema)
        credentials = Credentials(workflow.settings)
        for role, region in OUTSIDERS.items():
            department = OUTSIDER_DEPARTMENT if role == "department_officer" else None
            await create_user(workflow.settings, username=f"outsider-{role}", password=PASSWORD, role=role,
                              region=region, department=department)  # fmt: skip
        await create_user(workflow.settings, username="leaver", password=PASSWORD, role="county_officer",
                          region=VILLAGE[:6])  # fmt: skip
        leaver = await workflow.login("leaver")
        assert (await workflow.http.post("/v1/auth/logout", headers=leaver)).status_code == 204
        credentials.revoked = leaver["Authorization"].removeprefix("Bearer ")
        yield Stack(services, routes, await seed(services), credentials)


def test_the_walk_knows_every_route(stack: Stack) -> None:
    """Not vacuous: every service's routes are there, and every state-changing one has a body."""
    by_service = {name: [r for r in stack.routes if r.service == name] for name in stack.services}
    least = {"intake": 10, "risk": 1, "workflow": 40, "notify": 9}
    assert {name: len(routes) for name, routes in by_service.items() if len(routes) < least[name]} == {}
    bodies = stack.bodies()
    missing = [str(r) for r in stack.routes if r.method in UNSAFE and not r.api_key and (r.method, r.path) not in bodies
               and (r.method, r.path) not in OWN_SESSION]  # fmt: skip
    assert not missing, f"give the walk a valid body for: {missing}"


async def test_no_route_takes_a_missing_forged_expired_or_revoked_credential(stack: Stack) -> None:
    checked = 0
    for route in stack.routes:
        http = stack.services[route.service].http
        for what, headers in stack.credentials.bad():
            if what == "revoked session" and route.service != "workflow":
                continue  # the others ask workflow (introspection): tests/security/test_token_forgery_and_revocation.py
            sent = as_cookie(headers) if route.page else headers
            response = await http.request(route.method, route.url(stack.ids), headers=sent, follow_redirects=False)
            assert_refused_without_credentials(route, what, response)
            checked += 1
    assert checked > 400


async def test_no_route_gives_another_regions_objects_to_any_role(stack: Stack) -> None:
    workflow = stack.services["workflow"]
    bodies = stack.bodies()
    checked = 0
    for role, region in OUTSIDERS.items():
        login = await workflow.login(f"outsider-{role}")
        token = login["Authorization"].removeprefix("Bearer ")
        csrf = {CSRF_FIELD: session_csrf(workflow.settings, verify_claims(workflow.settings, token))}
        department = OUTSIDER_DEPARTMENT if role == "department_officer" else None
        for route in stack.routes:
            if (route.method, route.path) in OWN_SESSION | OWN_REGION:
                continue
            running = stack.services[route.service]
            if route.page:
                headers, form = as_cookie(login), {**bodies.get((route.method, route.path), {}), **csrf}
                kwargs: dict[str, Any] = {"data": form} if route.method in UNSAFE else {}
            else:
                own = token_for(running.settings, role, region, department)
                headers = login if route.service == "workflow" else own
                body = bodies.get((route.method, route.path))
                kwargs = {"json": body} if body else {}
            for params in ({}, {"region": VILLAGE}) if not route.params and route.method == "GET" else ({},):
                response = await running.http.request(
                    route.method, route.url(stack.ids), headers=headers, params=params, follow_redirects=False, **kwargs
                )
                assert_refused_to_outsider(route, role, response, stack.markers)
                checked += 1
    assert checked > 500

"""The case-worker UI without the stack: task forms derived from forms.py, errors keyed by field,
login redirects, the language switch, ID-number masking and the inbox's overdue marks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import Markup
from starlette.requests import Request

from safetynet_core.auth import Principal, Role, issue_token, verify_claims
from safetynet_core.policy import load_policy
from safetynet_core.policy.workflow import WorkflowPolicy
from safetynet_core.settings import DEFAULT_POLICY_FILE
from safetynet_core.vocabulary import GUARANTEES
from safetynet_workflow.bootstrap import bootstrap
from safetynet_workflow.clients.intake import IntakeClient
from safetynet_workflow.main import create_app
from safetynet_workflow.settings import Settings
from safetynet_workflow.tasks.forms import FORMS, FormInvalid, validate_form
from safetynet_workflow.ui.csrf import session_csrf
from safetynet_workflow.ui.i18n import LANG_COOKIE, Lang, translator
from safetynet_workflow.ui.render import environment, page
from safetynet_workflow.ui.session import SESSION_COOKIE, safe_next
from safetynet_workflow.ui.taskforms import Widget, form_fields, form_state, parse_form

ID_NUMBER = "61032719800101123X"


@pytest.fixture(scope="module")
def policy() -> WorkflowPolicy:
    return load_policy(str(DEFAULT_POLICY_FILE)).workflow


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """The app without its lifespan: enough for everything that answers before touching the stores."""
    settings = Settings(log_json=False)
    app = create_app(settings)
    app.state.settings, app.state.adapters = settings, bootstrap(settings)  # no connection until a store is used
    return app


@pytest.fixture(scope="module")
def client(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


def with_cookies(app: FastAPI, **cookies: str) -> TestClient:
    return TestClient(app, follow_redirects=False, cookies=cookies)


def rejected(kind: str, data: dict[str, Any], policy: WorkflowPolicy) -> list[dict[str, Any]]:
    with pytest.raises(FormInvalid) as caught:
        validate_form(kind, data, policy)
    return caught.value.errors


def test_every_task_kind_has_a_form_with_widgets(policy: WorkflowPolicy) -> None:
    for kind in FORMS:
        specs = form_fields(kind, policy)
        assert specs, kind
        assert all(s.widget in Widget for s in specs)
    by_name = {s.name: s for s in form_fields("home_visit", policy)}
    assert by_name["visitors"].widget is Widget.MANY and by_name["visitors"].inputs == 3
    assert by_name["consent"].widget is Widget.CHECK and by_name["labour_capacity"].choices == (
        "full",
        "partial",
        "none",
    )
    measures, responsible = form_fields("assistance_plan", policy)
    assert responsible.name == "responsible" and responsible.widget is Widget.TEXT
    assert {s.name: s.choices for s in measures.rows[0]}["measures.0.type"] == tuple(policy.measure_types)
    assert form_fields("no_such_kind", policy) == []


def test_html_values_become_the_api_form(policy: WorkflowPolicy) -> None:
    visit = parse_form(
        "home_visit",
        policy,
        {"visitors": ["李伟", " ", "王芳"], "consent": ["on"], "verified_annual_income_cny": ["12000"], "notes": [""]},
    )
    assert visit == {
        "visitors": ["李伟", "王芳"], "consent": True, "verified_annual_income_cny": 12000.0,
        "guarantees": dict.fromkeys(GUARANTEES, False),  # a checklist's unticked boxes are "not secure"
    }  # fmt: skip
    ticked = parse_form("home_visit", policy, {"guarantees.food": ["on"]})["guarantees"]
    assert ticked["food"] is True and ticked["housing"] is False
    assert parse_form("review", policy, {"annual_net_income_cny": ["lots"]})["rigid_costs_resolved"] is False
    assert parse_form("review", policy, {"annual_net_income_cny": ["lots"]})["annual_net_income_cny"] == "lots"
    plan = parse_form(
        "assistance_plan",
        policy,
        {"measures.0.type": ["employment"], "measures.1.description": [""], "measures.2.description": ["x"]},
    )
    assert plan == {"measures": [{"type": "employment"}, {}, {"description": "x"}]}  # inner blank rows keep indices
    assert parse_form("assistance_plan", policy, {}) == {"measures": []}


def test_validation_errors_land_on_their_widgets(policy: WorkflowPolicy) -> None:
    values = {"visitors": ["alone"], "verified_annual_income_cny": ["x"]}
    errors = rejected("home_visit", parse_form("home_visit", policy, values), policy)
    state = form_state(form_fields("home_visit", policy), values, errors)
    assert set(state.errors) == {"visitors", "consent", "verified_annual_income_cny", "members_present"}
    assert state.values is values and state.general == []

    plan = {"measures.0.type": ["microcredit"], "measures.0.department": ["nowhere"], "measures.0.description": ["d"],
            "responsible": ["cadre"]}  # fmt: skip
    errors = rejected("assistance_plan", parse_form("assistance_plan", policy, plan), policy)
    assert set(form_state(form_fields("assistance_plan", policy), plan, errors).errors) == {"measures.0.department"}
    plan["measures.0.department"] = ["civil_affairs"]
    errors = rejected("assistance_plan", parse_form("assistance_plan", policy, plan), policy)
    keyed = form_state(form_fields("assistance_plan", policy), plan, errors).errors
    assert set(keyed) == {"measures.0.amount_cny"}  # microcredit needs an amount (the policy's check)

    conflict = form_state(form_fields("screen", policy), {}, [{"loc": ["path", "task_id"], "msg": "is done"}])
    assert conflict.errors == {} and conflict.general[0]["msg"] == "is done"


@pytest.mark.parametrize("path", ["/", "/?sort=-due", "/cases/C1", "/notices", "/notices/610327101201"])
def test_pages_need_a_login(app: FastAPI, client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=%2F")
    expired = with_cookies(app, **{SESSION_COOKIE: "not-a-jwt"}).get(path)
    assert expired.status_code == 303
    assert client.post("/tasks/T1/complete", data={"decision": "proceed"}).status_code == 303


def test_a_logged_out_form_post_returns_to_the_page_of_the_form(client: TestClient) -> None:
    here = {"referer": "http://testserver/cases/C1?done=T1"}
    posted = client.post("/cases/C1/objections", data={"reason": "r"}, headers=here)
    assert posted.status_code == 303 and posted.headers["location"] == "/login?next=%2Fcases%2FC1%3Fdone%3DT1"
    elsewhere = client.post("/cases/C1/objections", headers={"referer": "https://evil.example/cases/C1"})
    assert elsewhere.headers["location"] == "/login?next=%2F"
    assert client.post("/tasks/T1/complete").headers["location"] == "/login?next=%2F"


def test_login_page_is_chinese_by_default_and_english_by_cookie(app: FastAPI, client: TestClient) -> None:
    zh = client.get("/login?next=/cases/C1")
    assert zh.status_code == 200 and '<html lang="zh-CN">' in zh.text and "用户名" in zh.text
    assert 'name="next" value="/cases/C1"' in zh.text
    switched = client.get("/lang/en?next=/login")
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    assert f"{LANG_COOKIE}=en" in switched.headers["set-cookie"]
    en = with_cookies(app, **{LANG_COOKIE: "en"}).get("/login")
    assert '<html lang="en">' in en.text and "Username" in en.text
    assert with_cookies(app, **{LANG_COOKIE: "fr"}).get("/login").text.count("用户名") == 1
    assert client.get("/lang/fr").status_code == 422


def test_redirect_targets_stay_on_this_site(client: TestClient) -> None:
    assert [safe_next(t) for t in ("/cases/C1?x=1", "//evil.example", "https://evil.example", "/\\evil", None)] == [
        "/cases/C1?x=1",
        "/",
        "/",
        "/",
        "/",
    ]
    assert client.get("/lang/en?next=//evil.example").headers["location"] == "/"


def test_logout_clears_the_session(app: FastAPI) -> None:
    token = issue_token(Settings(), Principal(subject="cadre", role=Role.VILLAGE_CADRE, region="610327101201"))
    csrf = session_csrf(Settings(), verify_claims(Settings(), token))
    response = with_cookies(app, **{SESSION_COOKIE: token}).post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"] and "Max-Age=0" in response.headers["set-cookie"]


def test_static_files_are_served_by_exact_name(client: TestClient) -> None:
    assert client.get("/static/ui/app.js").status_code == 200
    assert client.get("/static/ui/missing.css").status_code == 404
    assert client.get("/static/ui/..%2Fsession.py").status_code in (404, 422)


def test_every_printed_string_has_its_id_numbers_masked() -> None:
    template = environment.from_string("{{ note }}|{{ items|join(',') }}|{{ html }}")
    html = template.render(note=f"身份证 {ID_NUMBER}", items=[ID_NUMBER], html=Markup(f"<b>{ID_NUMBER}</b>"))  # noqa: S704 (test input)
    assert ID_NUMBER not in html
    assert html == "身份证 **************123X|**************123X|<b>**************123X</b>"


def test_both_languages_have_every_message() -> None:
    zh, en = translator(Lang.ZH), translator(Lang.EN)
    assert zh("nav.inbox") == "待办任务" and en("nav.inbox") == "Inbox"
    assert zh("inbox.count", n=3) == "共 3 项" and en("no.such.key", "fallback") == "fallback"


def fake_request(lang: Lang) -> Request:
    cookie = f"{LANG_COOKIE}={lang.value}".encode()
    return Request(
        {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": [(b"cookie", cookie)]}
    )


def test_inbox_marks_overdue_tasks_and_shows_escalation() -> None:
    now = datetime.now(UTC)
    task = {"task_id": "T", "case_id": "C", "household_id": "H1", "kind": "screen", "region_code": "610327101201"}
    tasks = [
        {**task, "status": "open", "due_at": now - timedelta(hours=1), "late": True, "escalation_level": 1,
         "level": "township", "assignee": None},
        {**task, "household_id": "H2", "status": "claimed", "due_at": now + timedelta(days=1), "late": False,
         "escalation_level": 0, "level": "village", "assignee": "cadre"},
    ]  # fmt: skip
    principal = Principal(subject="cadre", role=Role.VILLAGE_CADRE, region="610327101201")
    body = bytes(
        page(fake_request(Lang.EN), "inbox.html", principal=principal, tasks=tasks, sort="due", titles={}).body
    ).decode()
    late, on_time = body.split('data-household="H2"')
    assert 'class="late"' in late and "Overdue" in late and "↑1</span> Township" in late
    assert "Overdue" not in on_time and "Claimed · cadre" in on_time
    assert 'href="/?sort=-due"' in body


async def test_the_case_page_shows_the_households_registry_record_from_intake() -> None:
    record = {
        "household_id": "H1", "region_code": "610327101201", "poverty_status": "lifted", "head_member_id": "M1",
        "annual_net_income_cny": 30000.0, "grid_id": "G-01", "phone": "*******8000",
        "members": [
            {"member_id": "M1", "name": "王建国", "id_number_masked": "**************123X", "birth_date": "1980",
             "labour_capacity": "full", "in_school": False},
            {"member_id": "M2", "name": "王小明", "id_number_masked": "**************4567", "birth_date": "2012",
             "labour_capacity": "none", "in_school": True},
        ],
    }  # fmt: skip
    asked: list[httpx.Request] = []

    def intake(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, json=record) if request.url.path == "/v1/households/H1" else httpx.Response(404)

    found, error = await IntakeClient(Settings(), httpx.MockTransport(intake)).household("jwt-of-user", "H1")
    assert (found, error) == (record, None)
    assert asked[0].headers["authorization"] == "Bearer jwt-of-user"
    missing = await IntakeClient(Settings(), httpx.MockTransport(intake)).household("t", "H9")
    assert missing == (None, "case.household_missing")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    assert await IntakeClient(Settings(), httpx.MockTransport(down)).household("t", "H1") == (
        None, "case.household_unavailable"
    )  # fmt: skip

    shown = bytes(page(fake_request(Lang.EN), "_registry.html", household=found, household_error=None).body).decode()
    assert "Lifted" in shown and "G-01" in shown and "*******8000" in shown and "30000" in shown
    head, child = shown.split("王小明")
    assert "王建国" in head and "Head" in head and "**************123X" in head and "Full" in head
    assert "2012" in child and "✓" in child
    absent = page(fake_request(Lang.ZH), "_registry.html", household=None, household_error="case.household_missing")
    assert "登记系统中没有该户的记录" in bytes(absent.body).decode()

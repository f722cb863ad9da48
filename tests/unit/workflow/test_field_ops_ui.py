"""The field-operations pages without the stack: entry forms built from the API's request models, their
errors keyed by field (model checks, API refusals), list and record rendering in both languages with
ID numbers masked, task links, nav links by role, and the data-quality list from intake (with intake
unreachable shown as a message)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from safetynet_core.auth import Principal, Role
from safetynet_core.errors import ApiError
from safetynet_core.policy.workflow import WorkflowPolicy
from safetynet_workflow.clients.intake import IntakeClient
from safetynet_workflow.corrections import pages as correction_pages
from safetynet_workflow.corrections.models import CorrectionRequest
from safetynet_workflow.corrections.pages import typed_value
from safetynet_workflow.ledger import pages as ledger_pages
from safetynet_workflow.ledger.service import ReportedFinding
from safetynet_workflow.quality import pages as quality_pages
from safetynet_workflow.quality.pages import fetch_issues
from safetynet_workflow.settings import Settings
from safetynet_workflow.sweeps.service import SweepLaunch
from safetynet_workflow.ui.i18n import Lang
from safetynet_workflow.ui.links import owner_href, return_href, task_href
from safetynet_workflow.ui.records import submit
from safetynet_workflow.ui.render import page
from safetynet_workflow.ui.taskforms import Widget, form_fields, model_fields
from tests.unit.workflow.test_ui import ID_NUMBER, app, client, fake_request, policy

__all__ = ["app", "client", "policy"]  # fixtures used here
TOWNSHIP = Principal(subject="township", role=Role.TOWNSHIP_OFFICER, region="610327101")
MASKED_ID = "**************123X"


def render(template: str, lang: Lang = Lang.EN, **context: Any) -> str:
    return bytes(page(fake_request(lang), template, **context).body).decode()


async def accepted(body: Any) -> dict[str, Any]:
    return {"ok": True, "body": body}


@pytest.mark.parametrize(
    "path",
    ["/sweeps", "/sweeps/new", "/sweeps/S1", "/corrections", "/corrections/R1", "/ledger", "/ledger/new",
     "/ledger/L1", "/data-quality", "/tasks/T1"],
)  # fmt: skip
def test_field_ops_pages_need_a_login(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=%2F")


def test_entry_forms_come_from_the_api_request_models(policy: WorkflowPolicy) -> None:
    sweep = {s.name: s for s in model_fields(SweepLaunch, policy, skip=("target",))}
    assert list(sweep) == ["kind", "region_code", "title"]
    assert sweep["kind"].widget is Widget.SELECT and sweep["kind"].choices == ("routine", "periodic", "concentrated")
    correction = {s.name: s for s in model_fields(CorrectionRequest, policy)}
    assert correction["field"].choices[:2] == ("poverty_status", "annual_net_income_cny")
    assert correction["evidence"].widget is Widget.ROWS and correction["evidence"].required
    assert [s.name for s in correction["evidence"].rows[0]] == [
        "evidence.0.kind",
        "evidence.0.reference",
        "evidence.0.description",
    ]
    finding = {s.name: s for s in model_fields(ReportedFinding, policy)}
    assert finding["problem"].widget is Widget.TEXTAREA and finding["source"].choices == ("audit", "report")


def test_correction_values_take_the_fields_type() -> None:
    assert typed_value({"field": "annual_net_income_cny", "value": "20000"})["value"] == 20000.0
    assert typed_value({"field": "annual_net_income_cny", "value": "lots"})["value"] == "lots"  # the model says no
    assert typed_value({"field": "member.in_school", "value": "是"})["value"] is True
    assert typed_value({"field": "phone", "value": "13800000000"})["value"] == "13800000000"
    assert typed_value({"field": "nonsense", "value": "1"}) == {"field": "nonsense", "value": "1"}


async def test_form_errors_land_on_their_fields(policy: WorkflowPolicy) -> None:
    specs = model_fields(SweepLaunch, policy, skip=("target",))
    result, state, status = await submit(SweepLaunch, specs, {"region_code": ["6103"]}, accepted)
    assert result is None and state is not None and status == 422
    assert set(state.errors) == {"kind", "region_code"} and state.values == {"region_code": ["6103"]}

    async def outside(_: Any) -> dict[str, Any]:
        raise ApiError(403, "region 610327102 is outside your scope", ["body", "region_code"])

    values = {"kind": ["routine"], "region_code": ["610327102"]}
    _, refused, status = await submit(SweepLaunch, specs, values, outside)
    assert status == 403 and refused is not None and refused.errors["region_code"][0]["type"] == "forbidden"
    done, none, status = await submit(SweepLaunch, specs, values, accepted)
    assert done is not None and none is None and status == 200 and done["body"].kind == "routine"

    specs = model_fields(CorrectionRequest, policy)
    filed = {
        "household_id": ["H1"], "field": ["annual_net_income_cny"], "value": ["lots"], "reason": ["wrong"],
        "evidence.0.kind": ["certificate"], "evidence.0.reference": ["C-1"],
    }  # fmt: skip
    _, state, _ = await submit(CorrectionRequest, specs, filed, accepted, whole="value", prepare=typed_value)
    assert state is not None and set(state.errors) == {"value"} and state.errors["value"][0]["type"] == "value_error"
    _, state, _ = await submit(CorrectionRequest, specs, {**filed, "evidence.0.kind": [""]}, accepted)
    assert state is not None and set(state.errors) == {"evidence.0.kind"}


def test_entry_page_shows_errors_and_the_default_target_rule(policy: WorkflowPolicy) -> None:
    specs = model_fields(SweepLaunch, policy, skip=("target",))
    html = render(
        "entry.html", principal=TOWNSHIP, area="sweeps", specs=specs, state=None, list_href="/sweeps",
        target_groups=["illness", "disaster"],
    )  # fmt: skip
    assert 'id="form-sweeps"' in html and "Targets follow the default rule: Illness、Disaster" in html
    assert "form-invalid" not in html


def test_ledger_list_marks_overdue_items_in_both_languages() -> None:
    now = datetime.now(UTC)
    item = {"item_id": "L1", "source": "audit", "problem": f"户主 {ID_NUMBER} 未落实", "owner_role": "township_officer",
            "due_at": now - timedelta(days=1), "overdue": True, "escalation_level": 1, "status": "open",
            "household_id": "H1"}  # fmt: skip
    rows = [ledger_pages.with_late(item), ledger_pages.with_late({**item, "item_id": "L2", "status": "closed"})]
    context: dict[str, Any] = {"principal": TOWNSHIP, "area": "ledger", "columns": ledger_pages.COLUMNS, "rows": rows,
               "id_key": "item_id", "filters": ledger_pages.STATUSES, "filter_prefix": "ledger_status."}  # fmt: skip
    en = render("listing.html", **context)
    late, closed = en.split('data-id="L2"')
    assert 'class="late"' in late and "Overdue</span>" in late and "Township officer" in late and "Audit" in late
    assert "Overdue</span>" not in closed and 'href="/ledger/L1"' in late
    assert ID_NUMBER not in en and MASKED_ID in en
    zh = render("listing.html", Lang.ZH, **context)
    assert "已超期" in zh and "乡镇干部" in zh and "整改中" in zh and "问题台账" in zh


def test_correction_record_links_only_the_callers_open_tasks() -> None:
    tasks = [
        {"task_id": "T1", "kind": "correction_review", "status": "done", "role": "township_officer",
         "completed_by": "township", "form": {"decision": "approve"}, "due_at": datetime.now(UTC)},
        {"task_id": "T2", "kind": "correction_approval", "status": "open", "role": "county_officer",
         "due_at": datetime.now(UTC)},
    ]  # fmt: skip
    item = {"correction_id": "R1", "household_id": "H1", "field": "annual_net_income_cny", "value": 20000.0,
            "registry_value": 15000, "status": "awaiting_approval", "reason": "r",
            "evidence": [{"kind": "certificate", "reference": "C-1", "description": ""}]}  # fmt: skip
    html = render(
        "record.html", Lang.ZH, principal=TOWNSHIP, area="corrections", item=item, facts=correction_pages.FACTS,
        id_key="correction_id", list_href="/corrections", tasks=tasks, workable={"T2"},
        titles={"correction_review": "更正审核", "correction_approval": "更正审批"},
    )  # fmt: skip
    assert "家庭年纯收入" in html and "县级审批中" in html and "certificate · C-1" in html
    assert '<dd data-fact="value">20000</dd>' in html and '<dd data-fact="registry_value">15000</dd>' in html
    assert 'href="/tasks/T2"' in html and 'href="/tasks/T1"' not in html and "已完成 · township · 同意" in html


def test_tasks_open_where_they_are_worked_on() -> None:
    review = {"task_id": "T 1", "case_id": "R1", "step": "correction"}
    assert task_href(review) == "/tasks/T%201" and owner_href(review) == return_href(review) == "/corrections/R1"
    visit = {"task_id": "T", "case_id": "S1", "step": "sweep"}
    assert task_href(visit) == "/tasks/T" and owner_href(visit) == "/sweeps/S1" and return_href(visit) == "/"
    assert owner_href({"task_id": "T", "case_id": "L1", "step": "rectification"}) == "/ledger/L1"
    screen = {"task_id": "T", "case_id": "C1", "step": "screen"}
    assert task_href(screen) == owner_href(screen) == "/cases/C1"


@pytest.mark.parametrize(
    ("role", "links"),
    [
        (Role.TOWNSHIP_OFFICER, {"nav-sweeps", "nav-corrections", "nav-ledger", "nav-quality"}),
        (Role.GRID_WORKER, {"nav-sweeps", "nav-corrections", "nav-ledger"}),
        (Role.DEPARTMENT_OFFICER, set()),
    ],
)
def test_nav_links_follow_the_role(role: Role, links: set[str]) -> None:
    principal = Principal(subject="u", role=role, region="610327101", department="civil_affairs")
    html = render("inbox.html", principal=principal, tasks=[], sort="due", titles={})
    shown = {name for name in ("nav-sweeps", "nav-corrections", "nav-ledger", "nav-quality") if name in html}
    assert shown == links


async def test_data_quality_asks_intake_with_the_callers_token() -> None:
    seen: list[httpx.Request] = []
    issue = {"issue_id": 1, "household_id": "H1", "check": "duplicate", "message": f"ID {ID_NUMBER} also in H2",
             "status": "open", "detected_at": "2026-11-23T08:00:00+00:00"}  # fmt: skip

    def intake(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"issues": [issue]})

    found = await fetch_issues(IntakeClient(Settings(), httpx.MockTransport(intake)), "jwt-of-user", "duplicate")
    assert found.error is None and found.issues[0]["finding"] == f"ID {ID_NUMBER} also in H2"
    assert seen[0].headers["authorization"] == "Bearer jwt-of-user" and seen[0].url.params["check"] == "duplicate"
    assert "region" not in seen[0].url.params  # intake scopes by the token alone
    html = render(
        "listing.html", principal=TOWNSHIP, area="quality", columns=quality_pages.COLUMNS, rows=found.issues,
        id_key="issue_id", filters=quality_pages.CHECKS, filter_prefix="quality_check.", filter_param="check",
        chosen="duplicate",
    )  # fmt: skip
    assert "Duplicate" in html and MASKED_ID in html and ID_NUMBER not in html
    assert 'href="/data-quality?check=duplicate"' in html


async def test_data_quality_says_when_intake_cannot_answer() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    unreachable = await fetch_issues(IntakeClient(Settings(), httpx.MockTransport(down)), "t", None)
    assert unreachable.error == "quality.unavailable" and unreachable.issues == []
    refusing = IntakeClient(Settings(), httpx.MockTransport(lambda _: httpx.Response(403)))
    refused = await fetch_issues(refusing, "t", None)
    assert refused.error == "quality.forbidden"
    failing = IntakeClient(Settings(), httpx.MockTransport(lambda _: httpx.Response(500)))
    broken = await fetch_issues(failing, "t", None)
    assert broken.error == "quality.unavailable"
    html = render(
        "listing.html", Lang.ZH, principal=TOWNSHIP, area="quality", columns=quality_pages.COLUMNS, rows=[],
        id_key="issue_id", unavailable=unreachable.error,
    )  # fmt: skip
    assert "数据质量服务（采集服务）暂时无法访问" in html and 'id="unavailable"' in html


def test_a_sweep_visit_has_its_own_task_page(policy: WorkflowPolicy) -> None:
    visit = {"task_id": "T1", "case_id": "S1", "step": "sweep", "kind": "sweep_visit", "status": "open",
             "household_id": "H1", "due_at": datetime.now(UTC), "escalation_level": 0,
             "fields": form_fields("sweep_visit", policy)}  # fmt: skip
    html = render(
        "task.html", principal=TOWNSHIP, task=visit, late=False, workable=True, state=None, owner=return_href(visit),
        titles={"sweep_visit": "Sweep visit"},
    )  # fmt: skip
    assert 'id="form-sweep_visit"' in html and 'action="/tasks/T1/complete"' in html and 'name="met_household"' in html
    assert '<a id="owner" href="/">← Back to inbox</a>' in html

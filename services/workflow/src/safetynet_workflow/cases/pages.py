"""The case page (with the household's registry record from intake) and the objection form. Data and
checks are the case service's (as for `/v1/cases`); these pages only present it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from safetynet_core.auth import Principal
from safetynet_core.errors import ApiError
from safetynet_core.policy.workflow import WorkflowPolicy
from safetynet_core.vocabulary import GUARANTEES, Step
from safetynet_workflow.cases import service
from safetynet_workflow.cases.api import CaseStoreDep, CoverageDep
from safetynet_workflow.cases.service import CaseClosure, Objection
from safetynet_workflow.cases.store import CaseStore
from safetynet_workflow.clients.intake import REVEAL_STATUS, IntakeClient
from safetynet_workflow.clients.notify import NotifyClient
from safetynet_workflow.deps import ClientDep, IntakeDep, NotifyDep, PolicyDep
from safetynet_workflow.projection.models import TimelineName
from safetynet_workflow.reports.coverage import CoverageStore
from safetynet_workflow.tasks.api import TaskStoreDep
from safetynet_workflow.tasks.store import TaskStore
from safetynet_workflow.ui.i18n import lang_of, task_titles
from safetynet_workflow.ui.records import may, submit
from safetynet_workflow.ui.render import Revealed, api_error_message, error_page, page
from safetynet_workflow.ui.session import UiPrincipal, session_token
from safetynet_workflow.ui.taskforms import FormState, form_fields, model_fields, submitted_values

router = APIRouter()
VISIT_KINDS = ("home_visit", "elimination_visit")


def _visit_facts(timeline: list[dict[str, Any]], kinds: dict[str, str]) -> dict[str, Any] | None:
    """The form of the latest completed home (or elimination) visit."""
    visits = [
        e["details"].get("form") or {}
        for e in timeline
        if e["name"] == TimelineName.TASK_COMPLETED and kinds.get(e.get("task_id") or "") in VISIT_KINDS
    ]
    return visits[-1] if visits else None


GUARANTEE_KINDS = (*VISIT_KINDS, "review")


def _latest_guarantees(timeline: list[dict[str, Any]], kinds: dict[str, str]) -> dict[str, bool] | None:
    """The checklist of the latest completed visit or review (两不愁三保障 + safe water)."""
    for entry in reversed(timeline):
        form = entry["details"].get("form") or {}
        kind = kinds.get(entry.get("task_id") or "")
        if entry["name"] == TimelineName.TASK_COMPLETED and kind in GUARANTEE_KINDS and form.get("guarantees"):
            return {name: bool(form["guarantees"].get(name)) for name in GUARANTEES}
    return None


def _settled(timeline: list[dict[str, Any]], done: str | None) -> bool:
    """After completing `done`: has the case recorded what came next (else the page keeps polling)?"""
    if not done:
        return True
    completed = [
        i for i, e in enumerate(timeline) if e["name"] == TimelineName.TASK_COMPLETED and e.get("task_id") == done
    ]
    return bool(completed) and any(e["name"] != TimelineName.TASK_CLAIMED for e in timeline[completed[-1] + 1 :])


class CasePageSources:
    """Where the case page's data comes from (the request's adapters and the signed-in user's token)."""

    def __init__(
        self, cases: CaseStore, tasks: TaskStore, notify: NotifyClient, intake: IntakeClient, token: str,
        coverage: CoverageStore,
    ) -> None:  # fmt: skip
        self.cases, self.tasks, self.notify, self.intake, self.token = cases, tasks, notify, intake, token
        self.coverage = coverage


async def case_context(
    request: Request,
    principal: Principal,
    sources: CasePageSources,
    policy: WorkflowPolicy,
    case_id: str,
    *,
    done: str | None = None,
    states: dict[str, FormState] | None = None,
    registry: bool = False,
    objection: FormState | None = None,
    objected: bool = False,
    closure: FormState | None = None,
    reveal: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the case page shows (with `registry`, also the household's registry record read from
    intake as the user; `reveal`, a member's revealed ID number or why not); raises ApiError like the API
    (404 outside the caller's scope)."""
    detail = await service.case_page(
        principal, sources.cases, sources.notify, sources.token, case_id, sources.coverage
    )
    household, household_error = (
        await sources.intake.household(sources.token, detail["household_id"]) if registry else (None, None)
    )
    kinds = {t["task_id"]: t["kind"] for t in detail["tasks"]}
    workable = await sources.tasks.workable(principal, detail["tasks"])
    mine = [{**t, "fields": form_fields(t["kind"], policy)} for t in detail["tasks"] if t["task_id"] in workable]
    steps = list(Step)
    current = len(steps) if detail["status"] == "closed" else steps.index(Step(detail["step"]))
    return {
        "principal": principal,
        "case": detail,
        "latest": detail["assessments"][-1] if detail["assessments"] else None,
        "visit": _visit_facts(detail["timeline"], kinds),
        "guarantees": _latest_guarantees(detail["timeline"], kinds),
        "steps": [(step.value, i < current, i == current) for i, step in enumerate(steps)],
        "my_tasks": mine,
        "states": states or {},
        "kinds": kinds,
        "titles": task_titles(policy, lang_of(request)),
        "now": datetime.now(UTC),
        "done": done,
        "settled": _settled(detail["timeline"], done),
        "household": household,
        "household_error": household_error,
        "objection_fields": model_fields(Objection, policy),
        "objection": objection,
        "objected": objected,
        "may_close": may(principal, service.CLOSING_ROLES),
        "closure_fields": model_fields(CaseClosure, policy),
        "closure": closure,
        "may_reveal": may(principal, service.REVEALING_ROLES),
        "revealed": reveal if reveal and "id_number" in reveal else None,
        "reveal_error": reveal if reveal and "key" in reveal else None,
    }


def page_sources(
    request: Request,
    cases: CaseStoreDep,
    tasks: TaskStoreDep,
    notify: NotifyDep,
    intake: IntakeDep,
    coverage: CoverageDep,
) -> CasePageSources:
    return CasePageSources(cases, tasks, notify, intake, session_token(request) or "", coverage)


PageSources = Annotated[CasePageSources, Depends(page_sources)]


def case_url(case_id: str, **params: str) -> str:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return f"/cases/{quote(case_id, safe='')}" + (f"?{query}" if query else "")


@router.get("/cases/{case_id}")
async def case_page(
    case_id: str,
    request: Request,
    principal: UiPrincipal,
    sources: PageSources,
    policy: PolicyDep,
    done: Annotated[str | None, Query(max_length=200)] = None,
    partial: bool = False,
    objected: bool = False,
) -> Response:
    """The case; `partial` gives only its live part (the page polls it while a completion settles)."""
    try:
        context = await case_context(
            request, principal, sources, policy.workflow, case_id, done=done, registry=not partial, objected=objected
        )
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    return page(request, "case_live.html" if partial else "case.html", **context)


async def _case_action(
    request: Request,
    principal: Principal,
    sources: CasePageSources,
    policy: WorkflowPolicy,
    case_id: str,
    form: str,
    model: type[BaseModel],
    call: Callable[[Any], Awaitable[dict[str, Any]]],
    done: str,
) -> Response:
    """A case form (objection, close) through the case service: on success to `done`, else the case page
    again with the form's errors next to its fields."""
    values = submitted_values(await request.form())
    _, state, status = await submit(model, model_fields(model, policy), values, call)
    if state is None:
        return RedirectResponse(done, status_code=303)
    try:
        forms: dict[str, Any] = {form: state}
        context = await case_context(request, principal, sources, policy, case_id, registry=True, **forms)
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    return page(request, "case.html", status_code=status, **context)


@router.post("/cases/{case_id}/close")
async def close_case(
    case_id: str, request: Request, principal: UiPrincipal, sources: PageSources, client: ClientDep, policy: PolicyDep
) -> Response:
    """The county's close action (the case service's own): natural or duplicate; errors by their field."""
    return await _case_action(
        request, principal, sources, policy.workflow, case_id, "closure", CaseClosure,
        lambda body: service.close_case(principal, sources.cases, client, case_id, body), case_url(case_id),
    )  # fmt: skip


@router.post("/cases/{case_id}/reveal")
async def reveal_id_number(
    case_id: str,
    request: Request,
    principal: UiPrincipal,
    sources: PageSources,
    policy: PolicyDep,
    member_id: Annotated[str, Form(min_length=1, max_length=100)],
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """A member's full ID number on the case page, through intake's audited reveal (asked as the user, with
    their reason: intake decides and logs who, when and why). Never cached."""
    try:
        row = await service.visible_case(principal, sources.cases, case_id)
        number, error = await sources.intake.reveal(sources.token, row["household_id"], member_id, reason.strip())
        shown = {"member_id": member_id, **({"id_number": Revealed(number)} if number else {"key": error})}
        context = await case_context(request, principal, sources, policy.workflow, case_id, registry=True, reveal=shown)
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    response = page(request, "case.html", status_code=REVEAL_STATUS.get(error or "", 200), **context)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/cases/{case_id}/objections")
async def object_to_notice(
    case_id: str, request: Request, principal: UiPrincipal, sources: PageSources, client: ClientDep, policy: PolicyDep
) -> Response:
    """Record an objection raised during the case's public notice (the case service's own filing): the
    case goes back to the home visit; a rejected objection comes back with its error next to the field."""
    return await _case_action(
        request, principal, sources, policy.workflow, case_id, "objection", Objection,
        lambda body: service.file_objection(principal, sources.cases, client, case_id, body),
        case_url(case_id, objected="1"),
    )  # fmt: skip

"""The inbox, the case page and task forms. Data comes from the JSON API's own handlers (same queries,
same scoping, same service-layer calls); these pages only present it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from safetynet_core.auth import Principal
from safetynet_core.errors import ApiError
from safetynet_core.policy import cached_policy
from safetynet_core.policy.workflow import WorkflowPolicy
from safetynet_workflow.api import Objection, claim_task, complete_task, file_objection, get_case, list_tasks
from safetynet_workflow.deps import ClientDep, SettingsDep, StoreDep
from safetynet_workflow.models import Step
from safetynet_workflow.settings import Settings
from safetynet_workflow.store import Store, task_json
from safetynet_workflow.ui.i18n import Lang, lang_of
from safetynet_workflow.ui.intake_reads import household_record
from safetynet_workflow.ui.links import RECORD_PAGES, return_href, task_href
from safetynet_workflow.ui.records import submit
from safetynet_workflow.ui.render import api_error_message, error_page, page
from safetynet_workflow.ui.session import UiPrincipal, as_bearer_request, session_token
from safetynet_workflow.ui.taskforms import (
    FormState,
    form_fields,
    form_state,
    model_fields,
    parse_form,
    submitted_values,
)

router = APIRouter()
OPEN_STATUSES = ("open", "claimed")
VISIT_KINDS = ("home_visit", "elimination_visit")
SORT_PATTERN = "^-?due$"


def workflow_policy(settings: Settings) -> WorkflowPolicy:
    return cached_policy(str(settings.policy_file)).workflow


def task_titles(policy: WorkflowPolicy, lang: Lang) -> dict[str, str]:
    """Task kind -> title in `lang`, from the policy."""
    return {kind: d.title_zh if lang is Lang.ZH else d.title_en for kind, d in policy.tasks.items()}


def is_late(task: dict[str, Any], now: datetime) -> bool:
    due = task.get("due_at")
    return bool(task.get("overdue")) or (isinstance(due, datetime) and due < now)


@router.get("/")
async def inbox(
    request: Request,
    principal: UiPrincipal,
    store: StoreDep,
    settings: SettingsDep,
    sort: Annotated[str, Query(pattern=SORT_PATTERN)] = "due",
) -> Response:
    """The caller's open tasks (the API's inbox query), by due time, late ones marked."""
    tasks = (await list_tasks(principal, store))["tasks"]
    if sort == "-due":
        tasks.reverse()
    now = datetime.now(UTC)
    rows = [{**task, "late": is_late(task, now)} for task in tasks]
    titles = task_titles(workflow_policy(settings), lang_of(request))
    return page(request, "inbox.html", principal=principal, tasks=rows, sort=sort, titles=titles)


def _visit_facts(timeline: list[dict[str, Any]], kinds: dict[str, str]) -> dict[str, Any] | None:
    """The form of the latest completed home (or elimination) visit."""
    visits = [
        e["details"].get("form") or {}
        for e in timeline
        if e["name"] == "task.completed" and kinds.get(e.get("task_id") or "") in VISIT_KINDS
    ]
    return visits[-1] if visits else None


def _settled(timeline: list[dict[str, Any]], done: str | None) -> bool:
    """After completing `done`: has the case recorded what came next (else the page keeps polling)?"""
    if not done:
        return True
    completed = [i for i, e in enumerate(timeline) if e["name"] == "task.completed" and e.get("task_id") == done]
    return bool(completed) and any(e["name"] != "task.claimed" for e in timeline[completed[-1] + 1 :])


async def case_context(
    request: Request,
    principal: Principal,
    store: Store,
    settings: Settings,
    case_id: str,
    *,
    done: str | None = None,
    states: dict[str, FormState] | None = None,
    registry: bool = False,
    objection: FormState | None = None,
    objected: bool = False,
) -> dict[str, Any]:
    """Everything the case page shows (with `registry`, also the household's registry record read from
    intake as the user); raises ApiError like the API (404 outside the caller's scope)."""
    detail = await get_case(case_id, principal, store, as_bearer_request(request))
    household, household_error = (
        await household_record(settings, session_token(request) or "", detail["household_id"])
        if registry
        else (None, None)
    )
    policy = workflow_policy(settings)
    kinds = {t["task_id"]: t["kind"] for t in detail["tasks"]}
    mine = [
        {**t, "fields": form_fields(t["kind"], policy)}
        for t in detail["tasks"]
        if t["status"] in OPEN_STATUSES and await store.visible_task(principal, t["task_id"]) is not None
    ]
    steps = list(Step)
    current = len(steps) if detail["status"] == "closed" else steps.index(Step(detail["step"]))
    return {
        "principal": principal,
        "case": detail,
        "latest": detail["assessments"][-1] if detail["assessments"] else None,
        "visit": _visit_facts(detail["timeline"], kinds),
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
    }


@router.get("/cases/{case_id}")
async def case_page(
    case_id: str,
    request: Request,
    principal: UiPrincipal,
    store: StoreDep,
    settings: SettingsDep,
    done: Annotated[str | None, Query(max_length=200)] = None,
    partial: bool = False,
    objected: bool = False,
) -> Response:
    """The case; `partial` gives only its live part (the page polls it while a completion settles)."""
    try:
        context = await case_context(
            request, principal, store, settings, case_id, done=done, registry=not partial, objected=objected
        )
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    return page(request, "case_live.html" if partial else "case.html", **context)


def _case_url(case_id: str, **params: str) -> str:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return f"/cases/{quote(case_id, safe='')}" + (f"?{query}" if query else "")


@router.post("/cases/{case_id}/objections")
async def object_to_notice(
    case_id: str, request: Request, principal: UiPrincipal, store: StoreDep, client: ClientDep, settings: SettingsDep
) -> Response:
    """Record an objection raised during the case's public notice (the API's own handler): the case goes
    back to the home visit; a rejected objection comes back with its error next to the field."""
    specs = model_fields(Objection, workflow_policy(settings))
    values = submitted_values(await request.form())
    _, state, status = await submit(
        Objection, specs, values, lambda body: file_objection(case_id, body, principal, store, client)
    )
    if state is None:
        return RedirectResponse(_case_url(case_id, objected="1"), status_code=303)
    try:
        context = await case_context(request, principal, store, settings, case_id, registry=True, objection=state)
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    return page(request, "case.html", status_code=status, **context)


@router.post("/tasks/{task_id}/claim")
async def claim(task_id: str, request: Request, principal: UiPrincipal, store: StoreDep, client: ClientDep) -> Response:
    try:
        task = await claim_task(task_id, principal, store, client)
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    return RedirectResponse(task_href(task), status_code=303)


def task_context(
    request: Request, principal: Principal, settings: Settings, row: dict[str, Any], state: FormState | None = None
) -> dict[str, Any]:
    """A field-operations task (sweep visit, correction decision, rectification) on its own page."""
    policy = workflow_policy(settings)
    task = task_json(row)
    return {
        "principal": principal,
        "task": {**task, "fields": form_fields(task["kind"], policy)},
        "late": is_late(task, datetime.now(UTC)),
        "workable": task["status"] in OPEN_STATUSES,
        "state": state,
        "owner": return_href(task),
        "titles": task_titles(policy, lang_of(request)),
    }


@router.get("/tasks/{task_id}")
async def task_page(
    task_id: str, request: Request, principal: UiPrincipal, store: StoreDep, settings: SettingsDep
) -> Response:
    """A task of a sweep, correction or ledger item with its form; a case's task opens its case."""
    row = await store.visible_task(principal, task_id)
    if row is None:
        return error_page(request, 404, f"task {task_id} not found")
    if row["step"] not in RECORD_PAGES:
        return RedirectResponse(task_href(row), status_code=303)
    return page(request, "task.html", **task_context(request, principal, settings, row))


@router.post("/tasks/{task_id}/complete")
async def complete(
    task_id: str,
    request: Request,
    principal: UiPrincipal,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> Response:
    """Complete a task with its HTML form, through the API's own completion (the workflow validates it
    with forms.py); a rejected form comes back with each error next to its field."""
    row = await store.visible_task(principal, task_id)
    if row is None:
        return error_page(request, 404, f"task {task_id} not found")
    values = submitted_values(await request.form())
    policy = workflow_policy(settings)
    try:
        await complete_task(task_id, principal, store, client, parse_form(row["kind"], policy, values))
    except ApiError as exc:
        state = form_state(form_fields(row["kind"], policy), values, exc.body["detail"])
        if row["step"] in RECORD_PAGES:
            return page(request, "task.html", exc.status, **task_context(request, principal, settings, row, state))
        context = await case_context(
            request, principal, store, settings, row["case_id"], states={task_id: state}, registry=True
        )
        return page(request, "case.html", status_code=exc.status, **context)
    done = return_href(row) if row["step"] in RECORD_PAGES else _case_url(row["case_id"], done=task_id)
    return RedirectResponse(done, status_code=303)

"""The inbox, a field-operations task's own page, and the claim and complete posts of every task page.
Data and checks are the task service's (as for `/v1/tasks`); a case's task is worked on its case page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from safetynet_core.auth import Principal
from safetynet_core.errors import ApiError
from safetynet_core.policy.workflow import WorkflowPolicy
from safetynet_core.web import listing_region
from safetynet_workflow.auth.api import UserStoreDep
from safetynet_workflow.cases.pages import PageSources, case_context, case_url
from safetynet_workflow.deps import ClientDep, PolicyDep
from safetynet_workflow.projection.models import OPEN_TASK_STATUSES
from safetynet_workflow.tasks import service
from safetynet_workflow.tasks.api import TaskStoreDep
from safetynet_workflow.tasks.store import task_json
from safetynet_workflow.ui.i18n import lang_of, task_titles
from safetynet_workflow.ui.links import RECORD_PAGES, return_href, task_href
from safetynet_workflow.ui.records import is_late
from safetynet_workflow.ui.render import api_error_message, error_page, page
from safetynet_workflow.ui.session import UiPrincipal
from safetynet_workflow.ui.taskforms import FormState, form_fields, form_state, parse_form, submitted_values

router = APIRouter()
SORT_PATTERN = "^-?due$"
INBOX_LIMIT = 200


# Township and county officers and auditors land on the dashboard; their inbox is at /inbox.
DASHBOARD_LANDING_ROLES = ("township_officer", "county_officer", "auditor")


@router.get("/")
@router.get("/inbox")
async def inbox(
    request: Request,
    principal: UiPrincipal,
    store: TaskStoreDep,
    policy: PolicyDep,
    sort: Annotated[str, Query(pattern=SORT_PATTERN)] = "due",
) -> Response:
    """The caller's open tasks (the API's inbox query), by due time, late ones marked. At `/` (the landing
    page) officers and auditors are sent to the dashboard."""
    if request.url.path == "/" and principal.role.value in DASHBOARD_LANDING_ROLES:
        return RedirectResponse("/dashboard", status_code=303)
    rows = await store.list_tasks(principal, listing_region(principal, None), None, None, INBOX_LIMIT)
    heads = {r["task_id"]: r.get("head_name") for r in rows}
    tasks = [{**task_json(r), "head_name": heads[r["task_id"]]} for r in rows]
    if sort == "-due":
        tasks.reverse()
    now = datetime.now(UTC)
    marked = [{**task, "late": is_late(task, now)} for task in tasks]
    titles = task_titles(policy.workflow, lang_of(request))
    return page(request, "inbox.html", principal=principal, tasks=marked, sort=sort, titles=titles)


@router.post("/tasks/{task_id}/claim")
async def claim(
    task_id: str, request: Request, principal: UiPrincipal, store: TaskStoreDep, client: ClientDep
) -> Response:
    try:
        task = await service.claim(principal, store, client, task_id)
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    return RedirectResponse(task_href(task), status_code=303)


def task_context(
    request: Request,
    principal: Principal,
    policy: WorkflowPolicy,
    row: dict[str, Any],
    state: FormState | None = None,
) -> dict[str, Any]:
    """A field-operations task (sweep visit, correction decision, rectification) on its own page."""
    task = task_json(row)
    return {
        "principal": principal,
        "task": {**task, "fields": form_fields(task["kind"], policy)},
        "late": is_late(task, datetime.now(UTC)),
        "workable": task["status"] in OPEN_TASK_STATUSES,
        "state": state,
        "owner": return_href(task),
        "titles": task_titles(policy, lang_of(request)),
    }


@router.get("/tasks/{task_id}")
async def task_page(
    task_id: str, request: Request, principal: UiPrincipal, store: TaskStoreDep, policy: PolicyDep
) -> Response:
    """A task of a sweep, correction or ledger item with its form; a case's task opens its case."""
    row = await store.visible_task(principal, task_id)
    if row is None:
        return error_page(request, 404, f"task {task_id} not found")
    if row["step"] not in RECORD_PAGES:
        return RedirectResponse(task_href(row), status_code=303)
    return page(request, "task.html", **task_context(request, principal, policy.workflow, row))


@router.post("/tasks/{task_id}/complete")
async def complete(
    task_id: str,
    request: Request,
    principal: UiPrincipal,
    store: TaskStoreDep,
    users: UserStoreDep,
    client: ClientDep,
    policy: PolicyDep,
    sources: PageSources,
) -> Response:
    """Complete a task with its HTML form, through the task service (the workflow validates it with
    tasks/forms.py); a rejected form comes back with each error next to its field."""
    row = await store.visible_task(principal, task_id)
    if row is None:
        return error_page(request, 404, f"task {task_id} not found")
    values = submitted_values(await request.form())
    rules = policy.workflow
    try:
        await service.complete(principal, store, users, client, task_id, parse_form(row["kind"], rules, values))
    except ApiError as exc:
        state = form_state(form_fields(row["kind"], rules), values, exc.body["detail"])
        if row["step"] in RECORD_PAGES:
            return page(request, "task.html", exc.status, **task_context(request, principal, rules, row, state))
        context = await case_context(
            request, principal, sources, rules, row["case_id"], states={task_id: state}, registry=True
        )
        return page(request, "case.html", status_code=exc.status, **context)
    done = return_href(row) if row["step"] in RECORD_PAGES else case_url(row["case_id"], done=task_id)
    return RedirectResponse(done, status_code=303)

"""The task and case API (CONTRACT.md, Workflow API). Every call is scoped server-side: the caller's
region prefix and role decide what exists for them (anything else is 404)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from safetynet_core.auth import Principal, Role, issue_token, verify_secret
from safetynet_core.errors import ApiError
from safetynet_core.web import CurrentPrincipal, listing_region
from safetynet_workflow.deps import ClientDep, SettingsDep, StoreDep
from safetynet_workflow.models import (
    ClaimRequest,
    CompleteRequest,
    ObjectionRequest,
    TaskState,
)
from safetynet_workflow.reports.notify import case_notifications
from safetynet_workflow.store import Store, case_json, task_json

router = APIRouter(prefix="/v1")
UPDATE_ERRORS = {"FormInvalid": 422, "NotFound": 404, "Conflict": 409}


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class Objection(BaseModel):
    reason: str = Field(min_length=1, max_length=4000)


@router.post("/auth/token", response_model=Token, tags=["auth"])
async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], store: StoreDep, settings: SettingsDep) -> Token:
    """OAuth2 password flow: a JWT carrying role, region and department (no PII)."""
    for field in ("username", "password"):
        if "\x00" in getattr(form, field):
            raise ApiError(422, "must not contain NUL (\\u0000) characters", ["body", field])
    user = await store.user(form.username)
    ok = user is not None and await asyncio.to_thread(verify_secret, user["password_hash"], form.password)
    if not ok or user is None:
        raise ApiError(401, "wrong username or password", ["body", "username"], headers={"WWW-Authenticate": "Bearer"})
    principal = Principal(
        subject=user["username"],
        role=Role(user["role"]),
        region=user["region_code"],
        department=user["department"],
    )
    return Token(access_token=issue_token(settings, principal))


@router.get("/tasks", tags=["tasks"])
async def list_tasks(
    principal: CurrentPrincipal,
    store: StoreDep,
    status: Annotated[str | None, Query(pattern="^(open|claimed|done|cancelled)$")] = None,
    kind: str | None = None,
    region: str | None = None,
    grid: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """The caller's inbox: tasks inside their region prefix and for their role (or department), or
    for a grid worker their grid's tasks; `grid` cuts the inbox by grid."""
    prefix = listing_region(principal, region)
    rows = await store.list_tasks(principal, prefix, status, kind, limit, grid)
    return {"tasks": [task_json(r) for r in rows]}


async def _task_for(principal: Principal, store: Store, task_id: str) -> dict[str, Any]:
    row = await store.visible_task(principal, task_id)
    if row is None:
        raise ApiError(404, f"task {task_id} not found", ["path", "task_id"])
    if row["status"] not in ("open", "claimed"):
        raise ApiError(409, f"task {task_id} is {row['status']}", ["path", "task_id"])
    return row


def _update_error(exc: Exception) -> ApiError:
    """A rejected Temporal update as the platform's error shape (form errors name their fields)."""
    cause = exc.cause if isinstance(exc, WorkflowUpdateFailedError) else None
    if isinstance(cause, ApplicationError):
        status = UPDATE_ERRORS.get(cause.type or "", 409)
        error = ApiError(status, cause.message, ["body"])
        if cause.type == "FormInvalid" and cause.details:
            error.body = {"detail": cause.details[0]}
        return error
    if isinstance(exc, RPCError) and exc.status is RPCStatusCode.NOT_FOUND:
        return ApiError(409, "the case is no longer running", ["path"])
    return ApiError(503, f"workflow engine unavailable: {type(exc).__name__}", [])


async def _update(client: ClientDep, workflow_id: str, name: str, request: BaseModel) -> TaskState:
    try:
        handle = client.get_workflow_handle(workflow_id)
        result: TaskState = await handle.execute_update(name, request, result_type=TaskState)
    except (WorkflowUpdateFailedError, RPCError) as exc:
        raise _update_error(exc) from exc
    return result


def _task_out(task: TaskState) -> dict[str, Any]:
    return task_json(task.model_dump(mode="json"))


@router.post("/tasks/{task_id}/claim", tags=["tasks"])
async def claim_task(task_id: str, principal: CurrentPrincipal, store: StoreDep, client: ClientDep) -> dict[str, Any]:
    row = await _task_for(principal, store, task_id)
    task = await _update(
        client, row["workflow_id"], "claim_task", ClaimRequest(task_id=task_id, username=principal.subject)
    )
    return _task_out(task)


@router.post("/tasks/{task_id}/complete", tags=["tasks"])
async def complete_task(
    task_id: str,
    principal: CurrentPrincipal,
    store: StoreDep,
    client: ClientDep,
    form: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Complete with the kind's form; the workflow validates it against the case's own policy."""
    row = await _task_for(principal, store, task_id)
    task = await _update(
        client,
        row["workflow_id"],
        "complete_task",
        CompleteRequest(task_id=task_id, username=principal.subject, form=form),
    )
    return _task_out(task)


async def _case_for(principal: Principal, store: Store, case_id: str) -> dict[str, Any]:
    row = await store.get_case(case_id)
    if row is None or not principal.can_see(row["region_code"]):
        raise ApiError(404, f"case {case_id} not found", ["path", "case_id"])
    return row


@router.post("/cases/{case_id}/objections", status_code=202, tags=["cases"])
async def file_objection(
    case_id: str, body: Objection, principal: CurrentPrincipal, store: StoreDep, client: ClientDep
) -> dict[str, str]:
    """An objection during the case's public notice: the case goes back to the home visit."""
    row = await _case_for(principal, store, case_id)
    if row["status"] == "closed":
        raise ApiError(409, "the case is closed", ["path", "case_id"])
    try:
        await client.get_workflow_handle(row["workflow_id"]).execute_update(
            "file_objection", ObjectionRequest(username=principal.subject, reason=body.reason)
        )
    except (WorkflowUpdateFailedError, RPCError) as exc:
        raise _update_error(exc) from exc
    return {"status": "accepted", "case_id": case_id}


@router.get("/cases", tags=["cases"])
async def list_cases(
    principal: CurrentPrincipal,
    store: StoreDep,
    status: str | None = None,
    step: str | None = None,
    region: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    prefix = listing_region(principal, region)
    return {"cases": [case_json(r) for r in await store.list_cases(prefix, status, step, limit)]}


@router.get("/cases/{case_id}", tags=["cases"])
async def get_case(case_id: str, principal: CurrentPrincipal, store: StoreDep, request: Request) -> dict[str, Any]:
    """The case with its timeline: events, assessments (with reasons), steps, tasks, escalations and
    notifications (from notify; empty with `notifications_error` set when notify does not answer)."""
    row = await _case_for(principal, store, case_id)
    detail = await store.case_detail(case_id)
    timeline = detail["timeline"]
    return {
        **case_json(row),
        "timeline": timeline,
        "events": [e for e in timeline if e["published"]],
        "assessments": [e["details"] for e in timeline if e["name"] == "assessment"],
        "steps": [e for e in timeline if e["name"] in ("case.opened", "case.step_changed", "case.closed")],
        "tasks": [task_json(t) for t in detail["tasks"]],
        "escalations": detail["escalations"],
        **await case_notifications(request, case_id),
    }


@router.get("/notices", tags=["cases"])
async def notices(principal: CurrentPrincipal, store: StoreDep, region: str | None = None) -> dict[str, Any]:
    """Running public notices: case, village, category and end date only (no personal data)."""
    prefix = listing_region(principal, region)
    return {"notices": await store.notices(prefix, datetime.now(UTC))}

"""What the task API and the inbox pages both do: find a task the caller may work on, and send a claim or
a completion to its workflow as a Temporal update (the update's validator checks the form)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from safetynet_core.auth import Principal
from safetynet_core.errors import ApiError
from safetynet_workflow.auth.store import UserStore
from safetynet_workflow.projection.models import OPEN_TASK_STATUSES, TaskState
from safetynet_workflow.tasks.models import ClaimRequest, CompleteRequest
from safetynet_workflow.tasks.store import TaskStore, task_json

UPDATE_ERRORS = {"FormInvalid": 422, "NotFound": 404, "Conflict": 409}


def update_error(exc: Exception) -> ApiError:
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


async def send_update(
    client: Client, workflow_id: str, name: str, request: BaseModel, result_type: type | None = None
) -> Any:
    """Run update `name` on a workflow; a rejection becomes the ApiError the caller answers with."""
    try:
        handle = client.get_workflow_handle(workflow_id)
        return await handle.execute_update(name, request, result_type=result_type)
    except (WorkflowUpdateFailedError, RPCError) as exc:
        raise update_error(exc) from exc


async def workable_task(principal: Principal, store: TaskStore, task_id: str) -> dict[str, Any]:
    """The caller's open task; 404 outside their scope, 409 when it is no longer open."""
    row = await store.visible_task(principal, task_id)
    if row is None:
        raise ApiError(404, f"task {task_id} not found", ["path", "task_id"])
    if row["status"] not in OPEN_TASK_STATUSES:
        raise ApiError(409, f"task {task_id} is {row['status']}", ["path", "task_id"])
    return row


async def _task_update(client: Client, workflow_id: str, name: str, request: BaseModel) -> dict[str, Any]:
    task: TaskState = await send_update(client, workflow_id, name, request, TaskState)
    return task_json(task.model_dump(mode="json"))


async def claim(principal: Principal, store: TaskStore, client: Client, task_id: str) -> dict[str, Any]:
    row = await workable_task(principal, store, task_id)
    return await _task_update(
        client, row["workflow_id"], "claim_task", ClaimRequest(task_id=task_id, username=principal.subject)
    )


async def check_responsible(store: TaskStore, users: UserStore, row: dict[str, Any], form: dict[str, Any]) -> None:
    """An assistance plan names the household's 帮扶责任人: an active user whose region contains the household
    (the workflow cannot look users up, so the API checks it before the form goes in)."""
    username = form.get("responsible")
    if row["kind"] != "assistance_plan" or not isinstance(username, str) or not username:
        return  # the form's own validation names a missing one
    user = await users.user(username)
    household_region = await store.case_region(row["case_id"]) or row["region_code"]
    if user is None or not household_region.startswith(user["region_code"]):
        raise ApiError(
            422, f"{username} is not an active user whose region contains the household", ["body", "responsible"]
        )


async def complete(
    principal: Principal, store: TaskStore, users: UserStore, client: Client, task_id: str, form: dict[str, Any]
) -> dict[str, Any]:
    """Complete with the kind's form; the workflow validates it against the case's own policy."""
    row = await workable_task(principal, store, task_id)
    await check_responsible(store, users, row, form)
    return await _task_update(
        client,
        row["workflow_id"],
        "complete_task",
        CompleteRequest(task_id=task_id, username=principal.subject, form=form),
    )

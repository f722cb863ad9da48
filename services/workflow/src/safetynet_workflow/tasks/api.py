"""The task API (CONTRACT.md, Workflow API): the caller's inbox, claim and complete. Scoped server-side:
the caller's region prefix and role decide what exists for them (anything else is 404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from safetynet_core.web import CurrentPrincipal, listing_region
from safetynet_workflow.auth.api import UserStoreDep
from safetynet_workflow.deps import ClientDep, adapter
from safetynet_workflow.tasks import service
from safetynet_workflow.tasks.store import TaskStore, task_json

router = APIRouter(prefix="/v1", tags=["tasks"])
TaskStoreDep = Annotated[TaskStore, Depends(adapter(TaskStore))]


@router.get("/tasks")
async def list_tasks(
    principal: CurrentPrincipal,
    store: TaskStoreDep,
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


@router.post("/tasks/{task_id}/claim")
async def claim_task(
    task_id: str, principal: CurrentPrincipal, store: TaskStoreDep, client: ClientDep
) -> dict[str, Any]:
    return await service.claim(principal, store, client, task_id)


@router.post("/tasks/{task_id}/complete")
async def complete_task(
    task_id: str,
    principal: CurrentPrincipal,
    store: TaskStoreDep,
    users: UserStoreDep,
    client: ClientDep,
    form: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Complete with the kind's form; the workflow validates it against the case's own policy."""
    return await service.complete(principal, store, users, client, task_id, form)

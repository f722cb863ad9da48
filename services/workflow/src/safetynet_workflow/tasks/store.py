"""Inbox queries: the tasks a caller may see (region prefix and role, or department, or grid), enforced
in SQL, and a task as the API shows it (CONTRACT.md, Workflow API)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, select, true

from safetynet_core.auth import Principal, Role
from safetynet_core.db import Database
from safetynet_workflow.projection.models import OPEN_TASK_STATUSES
from safetynet_workflow.tables import cases, tasks, users

TASK_FIELDS = (
    "task_id",
    "case_id",
    "household_id",
    "kind",
    "step",
    "role",
    "level",
    "region_code",
    "department",
    "status",
    "assignee",
    "created_at",
    "due_at",
    "escalation_level",
    "overdue",
    "subject",
    "completed_by",
    "completed_at",
    "grid_id",
)


def task_json(row: dict[str, Any]) -> dict[str, Any]:
    """A task as the API shows it."""
    return {k: row.get(k) for k in TASK_FIELDS}


def grid_worker_scope(username: str) -> Any:
    """The tasks a grid worker (网格员) sees: grid-routed tasks of the grid their user record names. (Tasks at
    the policy's grid levels are routed to the household's grid worker first: `TaskHost._route`.)"""
    their_grid = select(users.c.grid_id).where(users.c.username == username).scalar_subquery()
    return (tasks.c.role == "grid_worker") & (tasks.c.grid_id == their_grid)


def _task_scope(principal: Principal) -> Any:
    if principal.role is Role.ADMIN:
        return true()
    if principal.role is Role.DEPARTMENT_OFFICER:
        return and_(
            tasks.c.kind == "measure",
            tasks.c.role == Role.DEPARTMENT_OFFICER.value,
            tasks.c.department == (principal.department or ""),
        )
    if principal.role is Role.GRID_WORKER:
        return grid_worker_scope(principal.subject) | (tasks.c.assignee == principal.subject)
    # a task assigned to someone (a review for the household's 帮扶责任人) is theirs whatever their role
    return (tasks.c.role == principal.role.value) | (tasks.c.assignee == principal.subject)


def _visible_tasks(principal: Principal, prefix: str) -> Select[Any]:
    return select(tasks).where(tasks.c.region_code.startswith(prefix, autoescape=True), _task_scope(principal))


class TaskStore:
    """Reads of the task projection, scoped to the caller."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_tasks(
        self,
        principal: Principal,
        prefix: str,
        status: str | None,
        kind: str | None,
        limit: int,
        grid: str | None = None,
    ) -> list[dict[str, Any]]:
        query = _visible_tasks(principal, prefix).add_columns(cases.c.head_name)
        query = query.outerjoin(cases, cases.c.case_id == tasks.c.case_id)
        if grid:
            query = query.where(tasks.c.grid_id == grid)
        query = query.where(tasks.c.status == status if status else tasks.c.status.in_(OPEN_TASK_STATUSES))
        if kind:
            query = query.where(tasks.c.kind == kind)
        query = query.order_by(tasks.c.due_at).limit(limit)
        async with self.db.unit_of_work() as uow:
            return [dict(r._mapping) for r in await uow.execute(query)]

    async def visible_task(self, principal: Principal, task_id: str) -> dict[str, Any] | None:
        query = _visible_tasks(principal, "" if principal.role is Role.ADMIN else principal.region)
        async with self.db.unit_of_work() as uow:
            row = (await uow.execute(query.where(tasks.c.task_id == task_id))).first()
        return dict(row._mapping) if row else None

    async def case_region(self, case_id: str) -> str | None:
        """The village of the case a task belongs to."""
        async with self.db.unit_of_work() as uow:
            region: str | None = (
                await uow.execute(select(cases.c.region_code).where(cases.c.case_id == case_id))
            ).scalar_one_or_none()
            return region

    async def workable(self, principal: Principal, rows: list[dict[str, Any]]) -> set[str]:
        """Ids of the open tasks among `rows` the caller may work on (what their inbox would show)."""
        ids = [r["task_id"] for r in rows if r.get("status") in OPEN_TASK_STATUSES]
        if not ids:
            return set()
        query = _visible_tasks(principal, "" if principal.role is Role.ADMIN else principal.region)
        async with self.db.unit_of_work() as uow:
            found = await uow.execute(query.with_only_columns(tasks.c.task_id).where(tasks.c.task_id.in_(ids)))
            return {r.task_id for r in found}

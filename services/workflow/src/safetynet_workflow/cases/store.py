"""Case reads: lists and pages scoped by region prefix, a case's timeline, tasks, escalations and audit
log, running public notices, recently closed cases for sampling, what a reopened run carries over, and
the counts behind the service's gauges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, tuple_

from safetynet_core.db import Database
from safetynet_workflow.cases.models import CaseFilter
from safetynet_workflow.projection.models import OPEN_TASK_STATUSES
from safetynet_workflow.tables import audit_log, cases, escalations, tasks, timeline

CASE_FIELDS = (
    "case_id",
    "household_id",
    "region_code",
    "status",
    "step",
    "close_reason",
    "category",
    "level",
    "score",
    "risk_types",
    "green_channel",
    "policy_version",
    "opened_at",
    "closed_at",
    "step_since",
    "identification_due_at",
    "identified_at",
    "identification_breached",
    "notice_until",
    "responsible",
)
AUDIT_FIELDS = ("audit_id", "event_key", "action", "task_id", "actor", "case_status", "case_step", "at", "recorded_at")


def case_json(row: dict[str, Any]) -> dict[str, Any]:
    """A case as the API shows it (CONTRACT.md, Workflow API), with the household's registry facts."""
    household = {"size": row.get("household_size"), "labour_members": row.get("labour_members"),
                 "head_name": row.get("head_name")}  # fmt: skip
    return {**{k: row.get(k) for k in CASE_FIELDS}, "household": household}


def with_measures_of(department: str) -> Any:
    """The cases in which `department` carries out a measure: all a department officer may read of cases."""
    measure = (tasks.c.case_id == cases.c.case_id) & (tasks.c.kind == "measure")
    return exists().where(measure, tasks.c.department == department)


class CaseStore:
    """Reads of the case projection."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _rows(self, query: Any) -> list[dict[str, Any]]:
        async with self.db.unit_of_work() as uow:
            return [dict(r._mapping) for r in await uow.execute(query)]

    async def list_cases(
        self, where: CaseFilter, limit: int, now: datetime, after: tuple[datetime, str] | None = None
    ) -> list[dict[str, Any]]:
        """Cases matching the filter, newest first (then by id), after a (opened_at, case_id) cursor, each
        with its open and overdue task counts."""
        open_task = and_(tasks.c.case_id == cases.c.case_id, tasks.c.status.in_(OPEN_TASK_STATUSES))
        late = and_(open_task, or_(tasks.c.overdue, tasks.c.due_at < now))
        counted = select(func.count()).select_from(tasks)
        query = select(
            cases,
            counted.where(open_task).scalar_subquery().label("open_tasks"),
            counted.where(late).scalar_subquery().label("overdue_tasks"),
        ).where(cases.c.region_code.startswith(where.prefix, autoescape=True))
        if where.measures_of is not None:
            query = query.where(with_measures_of(where.measures_of))
        if where.status == "open":
            query = query.where(cases.c.status != "closed")
        elif where.status:
            query = query.where(cases.c.status == where.status)
        for column, value in (("step", where.step), ("category", where.category)):
            if value:
                query = query.where(cases.c[column] == value)
        if where.q:
            query = query.where(
                cases.c.household_id.istartswith(where.q, autoescape=True)
                | cases.c.head_name.icontains(where.q, autoescape=True)
            )
        if where.overdue:
            query = query.where(exists().where(late))
        if where.open_tasks:
            query = query.where(exists().where(open_task))
        if where.breached:
            query = query.where(cases.c.identification_breached)
        for column, since, until in (("opened_at", where.opened_from, where.opened_to),
                                     ("closed_at", where.closed_from, where.closed_to)):  # fmt: skip
            if since:
                query = query.where(cases.c[column] >= since)
            if until:
                query = query.where(cases.c[column] < until)
        if after is not None:
            query = query.where(tuple_(cases.c.opened_at, cases.c.case_id) < tuple_(*after))
        return await self._rows(query.order_by(cases.c.opened_at.desc(), cases.c.case_id.desc()).limit(limit))

    async def get_case(self, case_id: str, *, measures_of: str | None = None) -> dict[str, Any] | None:
        """The case; with `measures_of`, only when that department carries out a measure in it."""
        query = select(cases).where(cases.c.case_id == case_id)
        if measures_of is not None:
            query = query.where(with_measures_of(measures_of))
        found = await self._rows(query)
        return found[0] if found else None

    async def case_detail(self, case_id: str) -> dict[str, list[dict[str, Any]]]:
        """Timeline, tasks and escalations of one case, oldest first."""
        queries = {
            "timeline": select(timeline)
            .where(timeline.c.case_id == case_id)
            .order_by(timeline.c.at, timeline.c.event_key),
            "tasks": select(tasks).where(tasks.c.case_id == case_id).order_by(tasks.c.created_at),
            "escalations": select(escalations).where(escalations.c.case_id == case_id).order_by(escalations.c.at),
        }
        async with self.db.unit_of_work() as uow:
            return {name: [dict(r._mapping) for r in await uow.execute(q)] for name, q in queries.items()}

    async def audit(self, case_id: str) -> list[dict[str, Any]]:
        """Every recorded state change of a case, oldest first."""
        query = select(*(audit_log.c[f] for f in AUDIT_FIELDS)).where(audit_log.c.case_id == case_id)
        return await self._rows(query.order_by(audit_log.c.audit_id))

    async def notices(self, prefix: str, now: datetime) -> list[dict[str, Any]]:
        query = (
            select(cases.c.case_id, cases.c.region_code, cases.c.category, cases.c.step, cases.c.notice_until)
            .where(cases.c.region_code.startswith(prefix, autoescape=True), cases.c.notice_until > now)
            .order_by(cases.c.notice_until)
        )
        return await self._rows(query)

    async def recently_closed(self, since: datetime) -> list[dict[str, Any]]:
        """Cases closed since a moment: id, household, village and close reason."""
        query = select(cases.c.case_id, cases.c.household_id, cases.c.region_code, cases.c.close_reason).where(
            cases.c.status == "closed", cases.c.closed_at >= since
        )
        return await self._rows(query)

    async def reopen_facts(self, case_id: str) -> dict[str, Any] | None:
        """What a reopened run carries over: version (so keys continue), labour, the household's facts, the
        responsible cadre, measures in place."""
        carried = (cases.c.version, cases.c.labour, cases.c.opened_at, cases.c.household_size,
                   cases.c.labour_members, cases.c.head_name, cases.c.responsible)  # fmt: skip
        found = await self._rows(select(*carried).where(cases.c.case_id == case_id))
        if not found:
            return None
        measures = await self._rows(
            select(func.count().label("n"))
            .select_from(tasks)
            .where(tasks.c.case_id == case_id, tasks.c.kind == "measure", tasks.c.status == "done")
        )
        return {**found[0], "measures": int(measures[0]["n"])}

    async def open_workflows(self, household_ids: list[str]) -> dict[str, str]:
        """Household → the workflow id of its open case, for the households that have one."""
        return await self._open_workflows(cases.c.household_id, household_ids)

    async def open_workflows_of_cases(self, case_ids: list[str]) -> dict[str, str]:
        """Case id → its workflow id, for the cases among these that are open."""
        return await self._open_workflows(cases.c.case_id, case_ids)

    async def _open_workflows(self, key: Any, values: list[str]) -> dict[str, str]:
        if not values:
            return {}
        query = select(key.label("key"), cases.c.workflow_id).where(key.in_(values), cases.c.status != "closed")
        return {row["key"]: row["workflow_id"] for row in await self._rows(query)}

    async def gauges(self, now: datetime) -> dict[str, list[tuple[Any, ...]]]:
        """Cases by step and status; open and late tasks by kind and level (for the service's gauges)."""
        late = or_(tasks.c.overdue, tasks.c.due_at < now)
        async with self.db.unit_of_work() as uow:
            by_step = await uow.execute(
                select(cases.c.step, cases.c.status, func.count()).group_by(cases.c.step, cases.c.status)
            )
            open_tasks = await uow.execute(
                select(tasks.c.kind, tasks.c.level, func.count(), func.count().filter(late))
                .where(tasks.c.status.in_(OPEN_TASK_STATUSES))
                .group_by(tasks.c.kind, tasks.c.level)
            )
            return {"cases": [tuple(r) for r in by_step], "tasks": [tuple(r) for r in open_tasks]}

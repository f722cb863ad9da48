"""The Postgres projection: idempotent writes from the projection activity and the scoped reads behind
the task and case API (region prefix + role, enforced in SQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, true
from sqlalchemy.dialects.postgresql import insert

from safetynet_core.auth import Principal, Role
from safetynet_core.db import Database
from safetynet_workflow.audit import INSERT_AUDIT, audit_rows
from safetynet_workflow.grids import grid_worker_scope
from safetynet_workflow.models import CaseRow, Change, Entry, SampledCase, TaskState
from safetynet_workflow.tables import cases, escalations, tasks, timeline, users

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
)


def _upsert(table: Any, key: str) -> Any:
    """Insert or update every column, but never let an older version of a row overwrite a newer one.
    Built once and executed with parameters, so SQLAlchemy compiles it once."""
    stmt = insert(table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name != key}
    return stmt.on_conflict_do_update(
        index_elements=[key], set_=updates, where=table.c.version <= stmt.excluded.version
    )


UPSERT_CASE = _upsert(cases, "case_id")
UPSERT_TASK = _upsert(tasks, "task_id")
# A local activity's writes survive a worker killed before its workflow task completed; the re-run
# numbers entries afresh, so a key may first hold an entry that never happened: the replay overwrites
# it. An identical replay changes nothing and is not "new".
_entry_insert = insert(timeline)
INSERT_ENTRIES = _entry_insert.on_conflict_do_update(
    index_elements=[timeline.c.event_key],
    set_={c: _entry_insert.excluded[c] for c in ("case_id", "name", "task_id", "at", "details", "published")},
    where=(
        timeline.c.name.is_distinct_from(_entry_insert.excluded.name)
        | timeline.c.task_id.is_distinct_from(_entry_insert.excluded.task_id)
        | timeline.c.at.is_distinct_from(_entry_insert.excluded.at)
        | timeline.c.details.is_distinct_from(_entry_insert.excluded.details)
    ),
).returning(timeline.c.event_key)
INSERT_ESCALATIONS = insert(escalations).on_conflict_do_nothing()


def _task_row(task: TaskState, version: int) -> dict[str, Any]:
    row = task.model_dump(mode="python", exclude={"base_region", "sla_seconds", "phases_fired"})
    row["level"] = task.level.value
    row["status"] = task.status.value
    row["version"] = version
    return row


def _case_row(case: CaseRow, version: int) -> dict[str, Any]:
    row = case.model_dump(mode="python")
    row.update(status=case.status.value, step=case.step.value, version=version, updated_at=datetime.now(UTC))
    return row


def _escalation_row(change: Change, entry: Entry, task: TaskState | None) -> dict[str, Any]:
    details = entry.details
    return {
        "event_key": entry.key,
        "case_id": change.case_id,
        "task_id": entry.task_id or "",
        "kind": task.kind if task else "",
        "from_level": details["from"]["level"],
        "to_level": details["to"]["level"],
        "from_role": details["from"]["role"],
        "to_role": details["to"]["role"],
        "escalation_level": details["escalation_level"],
        "at": entry.at,
    }


class Store:
    """Reads and writes of the workflow projection."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ writes
    async def apply(self, change: Change) -> list[Entry]:
        """Write one change in a transaction; returns the entries that were new (for metrics)."""
        by_id = {t.task_id: t for t in change.tasks}
        async with self.db.engine.begin() as conn:
            if change.case is not None:
                await conn.execute(UPSERT_CASE, _case_row(change.case, change.version))
            if change.tasks:
                await conn.execute(UPSERT_TASK, [_task_row(t, change.version) for t in change.tasks])
            if not change.entries:
                return []
            rows = [
                {
                    "event_key": e.key,
                    "case_id": change.case_id,
                    "name": e.name,
                    "task_id": e.task_id,
                    "at": e.at,
                    "details": e.details,
                    "published": e.publish,
                }
                for e in change.entries
            ]
            result = await conn.execute(INSERT_ENTRIES, rows)
            fresh = set(result.scalars().all())
            new = [e for e in change.entries if e.key in fresh]
            if new:
                await conn.execute(INSERT_AUDIT, audit_rows(change, new))
            escalated = [
                _escalation_row(change, e, by_id.get(e.task_id or "")) for e in new if e.name == "task.escalated"
            ]
            if escalated:
                await conn.execute(INSERT_ESCALATIONS, escalated)
        return new

    # ------------------------------------------------------------------ scoped reads
    @staticmethod
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
            return grid_worker_scope(principal.subject)
        return tasks.c.role == principal.role.value

    def _visible_tasks(self, principal: Principal, prefix: str) -> Select[Any]:
        return select(tasks).where(tasks.c.region_code.startswith(prefix, autoescape=True), self._task_scope(principal))

    async def list_tasks(
        self,
        principal: Principal,
        prefix: str,
        status: str | None,
        kind: str | None,
        limit: int,
        grid: str | None = None,
    ) -> list[dict[str, Any]]:
        query = self._visible_tasks(principal, prefix)
        if grid:
            query = query.where(tasks.c.grid_id == grid)
        if status:
            query = query.where(tasks.c.status == status)
        else:
            query = query.where(tasks.c.status.in_(("open", "claimed")))
        if kind:
            query = query.where(tasks.c.kind == kind)
        query = query.order_by(tasks.c.due_at).limit(limit)
        async with self.db.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    async def visible_task(self, principal: Principal, task_id: str) -> dict[str, Any] | None:
        query = self._visible_tasks(principal, "" if principal.role is Role.ADMIN else principal.region)
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query.where(tasks.c.task_id == task_id))).first()
        return dict(row._mapping) if row else None

    async def list_cases(self, prefix: str, status: str | None, step: str | None, limit: int) -> list[dict[str, Any]]:
        query = select(cases).where(cases.c.region_code.startswith(prefix, autoescape=True))
        if status:
            query = query.where(cases.c.status == status)
        if step:
            query = query.where(cases.c.step == step)
        query = query.order_by(cases.c.opened_at.desc()).limit(limit)
        async with self.db.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    async def get_case(self, case_id: str) -> dict[str, Any] | None:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(cases).where(cases.c.case_id == case_id))).first()
        return dict(row._mapping) if row else None

    async def case_detail(self, case_id: str) -> dict[str, list[dict[str, Any]]]:
        """Timeline, tasks and escalations of one case, oldest first."""
        async with self.db.engine.connect() as conn:
            entries = await conn.execute(
                select(timeline).where(timeline.c.case_id == case_id).order_by(timeline.c.at, timeline.c.event_key)
            )
            case_tasks = await conn.execute(
                select(tasks).where(tasks.c.case_id == case_id).order_by(tasks.c.created_at)
            )
            ups = await conn.execute(
                select(escalations).where(escalations.c.case_id == case_id).order_by(escalations.c.at)
            )
            return {
                "timeline": [dict(r._mapping) for r in entries],
                "tasks": [dict(r._mapping) for r in case_tasks],
                "escalations": [dict(r._mapping) for r in ups],
            }

    async def notices(self, prefix: str, now: datetime) -> list[dict[str, Any]]:
        query = (
            select(cases.c.case_id, cases.c.region_code, cases.c.category, cases.c.step, cases.c.notice_until)
            .where(cases.c.region_code.startswith(prefix, autoescape=True), cases.c.notice_until > now)
            .order_by(cases.c.notice_until)
        )
        async with self.db.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    # ------------------------------------------------------------------ inspection and reopening
    async def recently_closed(self, since: datetime) -> list[SampledCase]:
        query = select(cases.c.case_id, cases.c.household_id, cases.c.region_code, cases.c.close_reason).where(
            cases.c.status == "closed", cases.c.closed_at >= since
        )
        async with self.db.engine.connect() as conn:
            return [SampledCase(**dict(r._mapping)) for r in await conn.execute(query)]

    async def reopen_facts(self, case_id: str) -> dict[str, Any] | None:
        """What a reopened run carries over: version (so keys continue), labour, measures in place."""
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(cases.c.version, cases.c.labour, cases.c.opened_at).where(cases.c.case_id == case_id)
                )
            ).first()
            if row is None:
                return None
            measures = await conn.execute(
                select(func.count())
                .select_from(tasks)
                .where(tasks.c.case_id == case_id, tasks.c.kind == "measure", tasks.c.status == "done")
            )
            return {
                "version": row.version,
                "labour": row.labour,
                "opened_at": row.opened_at,
                "measures": int(measures.scalar_one()),
            }

    # ------------------------------------------------------------------ metrics and users
    async def gauges(self, now: datetime) -> dict[str, list[tuple[Any, ...]]]:
        async with self.db.engine.connect() as conn:
            by_step = await conn.execute(
                select(cases.c.step, cases.c.status, func.count()).group_by(cases.c.step, cases.c.status)
            )
            late = or_(tasks.c.overdue, tasks.c.due_at < now)
            open_tasks = await conn.execute(
                select(tasks.c.kind, tasks.c.level, func.count(), func.count().filter(late))
                .where(tasks.c.status.in_(("open", "claimed")))
                .group_by(tasks.c.kind, tasks.c.level)
            )
            return {"cases": [tuple(r) for r in by_step], "tasks": [tuple(r) for r in open_tasks]}

    async def user(self, username: str) -> dict[str, Any] | None:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.username == username, users.c.active))).first()
        return dict(row._mapping) if row else None

    async def upsert_user(self, row: dict[str, Any]) -> None:
        stmt = insert(users).values(**row, created_at=datetime.now(UTC))
        async with self.db.engine.begin() as conn:
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["username"], set_={k: stmt.excluded[k] for k in row if k != "username"}
                )
            )


def task_json(row: dict[str, Any]) -> dict[str, Any]:
    """A task as the API shows it (CONTRACT.md, Workflow API)."""
    return {k: row.get(k) for k in TASK_FIELDS}


def case_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in CASE_FIELDS}


def since(days: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)

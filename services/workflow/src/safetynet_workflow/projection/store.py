"""The projection's writes: one idempotent transaction per change (case row, task rows, timeline entries,
the audit rows and escalations of the entries that are new). Versions keep an older change from
overwriting a newer one; replays add nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert as core_insert
from sqlalchemy.dialects.postgresql import insert

from safetynet_core.db import Database
from safetynet_core.vocabulary import CaseEventName
from safetynet_workflow.projection.models import CaseRow, Change, Entry, TaskState
from safetynet_workflow.tables import audit_log, cases, escalations, tasks, timeline

SYSTEM_ACTOR = "system"


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
INSERT_AUDIT = core_insert(audit_log)


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


def _entry_row(change: Change, entry: Entry) -> dict[str, Any]:
    return {
        "event_key": entry.key,
        "case_id": change.case_id,
        "name": entry.name,
        "task_id": entry.task_id,
        "at": entry.at,
        "details": entry.details,
        "published": entry.publish,
    }


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


def actor_of(entry: Entry) -> str:
    """The case worker behind an entry (claims, completions, objections), else the workflow engine."""
    by = entry.details.get("by")
    if isinstance(by, str) and by:
        return by
    objectors = sorted({str(o.get("username")) for o in entry.details.get("objections", ()) if isinstance(o, dict)})
    return ",".join(objectors) or SYSTEM_ACTOR


def audit_rows(change: Change, entries: list[Entry]) -> list[dict[str, Any]]:
    """Audit rows for the entries a projection write added (replays that change nothing add none)."""
    return [
        {
            "case_id": change.case_id,
            "event_key": e.key,
            "action": e.name,
            "task_id": e.task_id,
            "actor": actor_of(e),
            "case_status": change.status,
            "case_step": change.step,
            "at": e.at,
        }
        for e in entries
    ]


class ProjectionStore:
    """Writes of the workflow projection."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def apply(self, change: Change) -> list[Entry]:
        """Write one change in a transaction; returns the entries that were new (for metrics)."""
        by_id = {t.task_id: t for t in change.tasks}
        async with self.db.unit_of_work() as uow:
            if change.case is not None:
                await uow.execute(UPSERT_CASE, _case_row(change.case, change.version))
            if change.tasks:
                await uow.execute(UPSERT_TASK, [_task_row(t, change.version) for t in change.tasks])
            new: list[Entry] = []
            if change.entries:
                result = await uow.execute(INSERT_ENTRIES, [_entry_row(change, e) for e in change.entries])
                fresh = set(result.scalars().all())
                new = [e for e in change.entries if e.key in fresh]
            if new:
                await uow.execute(INSERT_AUDIT, audit_rows(change, new))
            escalated = [
                _escalation_row(change, e, by_id.get(e.task_id or ""))
                for e in new
                if e.name == CaseEventName.TASK_ESCALATED
            ]
            if escalated:
                await uow.execute(INSERT_ESCALATIONS, escalated)
            await uow.commit()
        return new

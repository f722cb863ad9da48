"""The append-only case audit log: one row per state change (timeline entry) of a case, written in the
projection's transaction with who did it and when (read back by `audit_api`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, String, Table, func, insert

from safetynet_workflow.models import Change, Entry
from safetynet_workflow.tables import metadata

SYSTEM_ACTOR = "system"

audit_log = Table(
    "audit_log",
    metadata,
    Column("audit_id", BigInteger, Identity(always=True), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("event_key", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("task_id", String(160)),
    Column("actor", String(200), nullable=False),
    Column("case_status", String(20), nullable=False),
    Column("case_step", String(20), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
INSERT_AUDIT = insert(audit_log)
AUDIT_FIELDS = ("audit_id", "event_key", "action", "task_id", "actor", "case_status", "case_step", "at", "recorded_at")


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

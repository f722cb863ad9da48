"""What a workflow records and the projection stores: the case row, the task state, timeline entries and
the change that carries them (pydantic, carried by Temporal's converter; safe inside the sandbox)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from safetynet_core.policy.workflow import RegionLevel
from safetynet_core.vocabulary import CaseStatus, Step

PROJECT_ACTIVITY = "project"


class TaskStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"


OPEN_TASK_STATUSES = (TaskStatus.OPEN.value, TaskStatus.CLAIMED.value)


class TimelineName(StrEnum):
    """Timeline entries kept on the case only (the published ones are `CaseEventName`)."""

    ASSESSMENT = "assessment"
    TASK_CLAIMED = "task.claimed"
    TASK_COMPLETED = "task.completed"
    GREEN_CHANNEL = "case.green_channel"
    NOTICE_OBJECTED = "notice.objected"
    NOTICE_ENDED = "notice.ended"
    IDENTIFIED = "case.identified"
    IDENTIFICATION_BREACHED = "case.identification_breached"
    ELIMINATION_REJECTED = "case.elimination_rejected"
    SAFETY_NET_SUPPORT = "case.safety_net_support"
    RESPONSIBLE_NAMED = "case.responsible_named"
    HOUSEHOLD_UPDATED = "case.household_updated"
    NATURAL_CLOSE_PROPOSED = "case.natural_close_proposed"
    CLOSE_REQUESTED = "case.close_requested"
    MEASURE_ACKNOWLEDGED = "measure.acknowledged"
    MEASURE_REFUSED = "measure.refused"


class TaskState(BaseModel):
    """A human task as the workflow holds it (and as the projection stores it)."""

    task_id: str
    case_id: str
    workflow_id: str
    household_id: str
    kind: str
    step: str
    role: str
    level: RegionLevel
    region_code: str
    base_region: str
    department: str | None = None
    status: TaskStatus = TaskStatus.OPEN
    assignee: str | None = None
    created_at: datetime
    due_at: datetime
    sla_seconds: float
    escalation_level: int = 0
    phases_fired: int = 0
    overdue: bool = False
    subject: dict[str, Any] = {}
    form: dict[str, Any] | None = None
    completed_by: str | None = None
    completed_at: datetime | None = None
    grid_id: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in (TaskStatus.OPEN, TaskStatus.CLAIMED)


class CaseRow(BaseModel):
    """The case as the projection stores it."""

    case_id: str
    workflow_id: str
    household_id: str
    region_code: str
    status: CaseStatus
    step: Step
    close_reason: str | None = None
    category: str = ""
    level: str = ""
    score: float = 0
    risk_types: list[str] = []
    green_channel: bool = False
    policy_version: str
    opened_at: datetime
    closed_at: datetime | None = None
    step_since: datetime
    identification_due_at: datetime | None = None
    identified_at: datetime | None = None
    identification_breached: bool = False
    notice_until: datetime | None = None
    labour: bool | None = None
    household_size: int | None = None
    labour_members: int | None = None
    head_name: str | None = None
    verified_income_cny: float | None = None
    responsible: str | None = None


class Entry(BaseModel):
    """One timeline entry; `publish` ones also go to the case-events topic under the same key."""

    key: str
    name: str
    at: datetime
    task_id: str | None = None
    details: dict[str, Any] = {}
    publish: bool = False


class RecordRef(BaseModel):
    """What every change names: the record its tasks belong to (a case, a sweep, a correction, a ledger
    item), its household and region, and the record's step and status at the time."""

    case_id: str
    household_id: str
    region_code: str
    step: str
    status: str = "open"
    close_reason: str | None = None


class Change(RecordRef):
    """What one projection activity call writes (idempotently) and publishes."""

    version: int
    case: CaseRow | None = None
    tasks: list[TaskState] = []
    entries: list[Entry] = []

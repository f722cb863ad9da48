"""Payloads exchanged between the consumer, the API, the workflows and the activities (pydantic,
carried by Temporal's pydantic data converter). Pure data: safe to import inside the workflow sandbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from safetynet_core.policy.workflow import RegionLevel, WorkflowPolicy

CASE_WORKFLOW = "CaseWorkflow"
INSPECTION_TASK_WORKFLOW = "InspectionTaskWorkflow"
INSPECTION_SAMPLER_WORKFLOW = "InspectionSamplerWorkflow"
LEDGER_ITEM_WORKFLOW = "LedgerItemWorkflow"


def case_workflow_id(household_id: str) -> str:
    """One workflow id per household: Temporal then refuses a second open case for it."""
    return f"case-{household_id}"


class Step(StrEnum):
    SCREEN = "screen"
    VERIFY = "verify"
    ASSIST = "assist"
    EVALUATE = "evaluate"
    CLOSE = "close"


class CaseStatus(StrEnum):
    SCREENING = "screening"
    VERIFYING = "verifying"
    ASSISTING = "assisting"
    EVALUATING = "evaluating"
    CLOSED = "closed"


STATUS_OF_STEP = {
    Step.SCREEN: CaseStatus.SCREENING,
    Step.VERIFY: CaseStatus.VERIFYING,
    Step.ASSIST: CaseStatus.ASSISTING,
    Step.EVALUATE: CaseStatus.EVALUATING,
    Step.CLOSE: CaseStatus.CLOSED,
}


class CloseReason(StrEnum):
    RISK_ELIMINATED = "risk_eliminated"
    NOT_ELIGIBLE = "not_eligible"
    NATURAL = "natural"
    DUPLICATE = "duplicate"
    DISMISSED = "dismissed"


class TaskStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"


class Reason(BaseModel):
    rule: str
    points: float = 0
    reason_zh: str = ""
    reason_en: str = ""


class Evidence(BaseModel):
    """One flagged risk assessment joined to a case (deduplicated by assessment_id)."""

    assessment_id: str
    household_id: str
    region_code: str
    category: str = ""
    level: str = ""
    score: float = 0
    risk_types: list[str] = []
    warnings: list[str] = []
    reasons: list[Reason] = []
    policy_version: str = ""
    event_ids: list[str] = []
    assessed_at: datetime
    income_pc: float = 0
    grid_id: str | None = None  # the household's grid (网格) when known: village tasks go to its worker


class CaseInput(BaseModel):
    """Everything a case run needs, fixed at start: a policy change never touches a running case."""

    household_id: str
    region_code: str
    policy: WorkflowPolicy
    policy_version: str
    monitoring_line_cny: float = 8500
    evidence: list[Evidence] = []
    first_lead_at: datetime | None = None
    case_id: str | None = None
    resume_step: Step | None = None
    seq_start: int = 0
    measures_in_place: int = 0
    members: int | None = None
    has_labour: bool | None = None
    opened_at: datetime | None = None
    search_attributes: bool = True
    grid_id: str | None = None
    # Continue-as-new during evaluate (history stays bounded): the case and its counters carry over.
    reviews_per_run: int = Field(12, ge=1)
    carry: CaseRow | None = None
    stable_months: int = 0
    reviews: int = 0
    evidence_ids: list[str] = []


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


class Entry(BaseModel):
    """One timeline entry; `publish` ones also go to the case-events topic under the same key."""

    key: str
    name: str
    at: datetime
    task_id: str | None = None
    details: dict[str, Any] = {}
    publish: bool = False


class Change(BaseModel):
    """What one projection activity call writes (idempotently) and publishes."""

    version: int
    case_id: str
    household_id: str
    region_code: str
    step: str
    status: str
    close_reason: str | None = None
    case: CaseRow | None = None
    tasks: list[TaskState] = []
    entries: list[Entry] = []


class ClaimRequest(BaseModel):
    task_id: str
    username: str


class CompleteRequest(BaseModel):
    task_id: str
    username: str
    form: dict[str, Any]


class ObjectionRequest(BaseModel):
    username: str
    reason: str = Field(min_length=1, max_length=4000)


class ReopenRequest(BaseModel):
    """A failed inspection asks for the household's case to be reopened."""

    case_id: str
    household_id: str
    region_code: str
    close_reason: str
    findings: str = ""
    inspection_task_id: str


class InspectionInput(BaseModel):
    """One sampled closed case and the auditor task raised for it."""

    case_id: str
    household_id: str
    region_code: str
    close_reason: str
    round: int
    policy: WorkflowPolicy


class SampledCase(BaseModel):
    case_id: str
    household_id: str
    region_code: str
    close_reason: str


class SampleRequest(BaseModel):
    policy: WorkflowPolicy
    round: int
    now: datetime


class SamplerInput(BaseModel):
    policy: WorkflowPolicy
    round: int = 0
    task_queue: str = ""


class CaseSnapshot(BaseModel):
    """The `snapshot` query: the case and its tasks as the workflow sees them now."""

    case: CaseRow
    tasks: list[TaskState]
    evidence_ids: list[str]
    notice_open: bool
    stable_months: int
    reviews: int


class LedgerInput(BaseModel):
    """A finding (inspection, audit, report) to rectify: one ledger item with an owner task."""

    item_id: str
    source: str
    source_ref: str
    region_code: str
    problem: str
    household_id: str | None = None
    created_by: str = "system"
    policy: WorkflowPolicy


def ledger_workflow_id(source: str, source_ref: str) -> str:
    """One ledger item per finding: starting it twice is refused by Temporal."""
    return f"ledger-{source}-{source_ref}"

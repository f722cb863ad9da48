"""What the case workflow takes and answers: its input, the evidence (flagged assessments) that joins a
case, objections during a public notice, and the snapshot query. Pure data: safe inside the sandbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio.common import SearchAttributeKey

from safetynet_core.policy.workflow import WorkflowPolicy
from safetynet_core.vocabulary import CloseReason, Step
from safetynet_workflow.projection.models import CaseRow, TaskState

CASE_WORKFLOW = "CaseWorkflow"
HOUSEHOLD_FACTS_ACTIVITY = "household_facts"
# Search attributes of a case run (registered on the Temporal server by `make up`).
HOUSEHOLD_ID = SearchAttributeKey.for_keyword("HouseholdId")
REGION_CODE = SearchAttributeKey.for_keyword("RegionCode")
CASE_STEP = SearchAttributeKey.for_keyword("CaseStep")
CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")


def case_workflow_id(household_id: str) -> str:
    """One workflow id per household: Temporal then refuses a second open case for it."""
    return f"case-{household_id}"


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


class HouseholdFacts(BaseModel):
    """The registry's facts about a household (and its corrections): the size per-capita income uses, how
    many members can work, the head's name. A visit may correct them explicitly, never implicitly."""

    household_id: str
    size: int = Field(ge=1)
    labour_members: int | None = Field(None, ge=0)
    head_name: str = ""

    @property
    def has_labour(self) -> bool | None:
        return None if self.labour_members is None else self.labour_members > 0

    @classmethod
    def of(cls, household_id: str, facts: dict[str, Any] | None) -> HouseholdFacts | None:
        """From the household directory's row (None when the registry has not sent the household yet)."""
        if not facts or not facts.get("members"):
            return None
        return cls(
            household_id=household_id,
            size=facts["members"],
            labour_members=facts.get("labour_members"),
            head_name=facts.get("head_name") or "",
        )


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
    household: HouseholdFacts | None = None
    responsible: str | None = None
    opened_at: datetime | None = None
    search_attributes: bool = True
    grid_id: str | None = None
    # Continue-as-new during evaluate (history stays bounded): the case and its counters carry over.
    reviews_per_run: int = Field(12, ge=1)
    carry: CaseRow | None = None
    stable_months: int = 0
    reviews: int = 0
    evidence_ids: list[str] = []


class CloseRequest(BaseModel):
    """The county's close action (CONTRACT.md): a natural close (death of a one-person household, moved
    away, merged) or a duplicate of another case."""

    reason: CloseReason
    note: str = Field("", max_length=4000)
    duplicate_of: str | None = Field(None, max_length=64)
    username: str


class MeasureAcknowledged(BaseModel):
    """A department's `measure_update` event (through intake): its measure task of that type on the case
    started, is done, or is refused (with the reason)."""

    event_id: str
    case_id: str
    department: str
    measure_type: str
    member_id: str = ""
    status: Literal["started", "done", "refused"]
    note: str = ""
    occurred_at: datetime


class DeathReported(BaseModel):
    """A department reported the death of a member (intake's `death` event, seen by the reports consumer)."""

    event_id: str
    member_id: str = ""
    occurred_at: datetime


class ObjectionRequest(BaseModel):
    username: str
    reason: str = Field(min_length=1, max_length=4000)


class CaseSnapshot(BaseModel):
    """The `snapshot` query: the case and its tasks as the workflow sees them now."""

    case: CaseRow
    tasks: list[TaskState]
    evidence_ids: list[str]
    notice_open: bool
    stable_months: int
    reviews: int


class CaseFilter(BaseModel):
    """What a case list is cut by (`GET /v1/cases`, the /cases page and its exports): a region prefix, a
    status (or "open": any but closed), step, category, a search in household ids and heads' names, cases
    with overdue or open tasks or a breached identification clock, opened or closed within `[from, to)`, and
    for a department officer only the cases of their department's measures."""

    prefix: str
    status: str | None = None
    step: str | None = None
    category: str | None = None
    q: str | None = None
    overdue: bool = False
    open_tasks: bool = False
    breached: bool = False
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    closed_from: datetime | None = None
    closed_to: datetime | None = None
    measures_of: str | None = None

"""Policy for the case workflow: task kinds with SLAs, the escalation ladder, the identification
clock, elimination conditions and inspection sampling."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from safetynet_core.policy.base import PolicySection
from safetynet_core.policy.fieldops import GridRouting, LedgerPolicy, SweepPolicy


class RegionLevel(StrEnum):
    VILLAGE = "village"
    TOWNSHIP = "township"
    COUNTY = "county"
    CITY = "city"


REGION_PREFIX_LENGTH = {RegionLevel.VILLAGE: 12, RegionLevel.TOWNSHIP: 9, RegionLevel.COUNTY: 6, RegionLevel.CITY: 4}


class TaskDefinition(PolicySection):
    """One human task kind: who does it, at which level, and how long they have."""

    step: str
    role: str
    level: RegionLevel
    sla_days: float = Field(gt=0)
    title_zh: str
    title_en: str


class EscalationPolicy(PolicySection):
    reminder_at: float = Field(0.75, gt=0, lt=1)
    overdue_at: float = Field(1.0, gt=0)
    second_escalation_at: float = Field(1.5, gt=0)
    ladder: list[RegionLevel] = [RegionLevel.VILLAGE, RegionLevel.TOWNSHIP, RegionLevel.COUNTY, RegionLevel.CITY]
    role_by_level: dict[RegionLevel, str] = {
        RegionLevel.VILLAGE: "village_cadre",
        RegionLevel.TOWNSHIP: "township_officer",
        RegionLevel.COUNTY: "county_officer",
        RegionLevel.CITY: "county_officer",
    }

    @model_validator(mode="after")
    def _ordered(self) -> EscalationPolicy:
        if not self.reminder_at < self.overdue_at < self.second_escalation_at:
            raise ValueError("reminder_at < overdue_at < second_escalation_at must hold")
        return self


class EliminationPolicy(PolicySection):
    """When risk elimination may be proposed (a month is 30 policy days)."""

    min_monitored_months: int = Field(6, ge=1)
    min_measures: int = Field(1, ge=0)
    stable_income_months: int = Field(6, ge=1)
    requires_labour_capacity: bool = True


class InspectionSampling(PolicySection):
    closed_within_days: int = Field(90, gt=0)
    townships_per_county: tuple[int, int] = (1, 2)
    villages_per_township: tuple[int, int] = (2, 3)
    households_per_village: tuple[int, int] = (3, 5)
    seed: int = 20260101
    every_days: int = Field(30, gt=0)


class ReportingPolicy(PolicySection):
    """Upward reports (逐级上报): a period's report is due this many calendar days after the period ends;
    later submissions are marked late."""

    due_days: dict[str, int] = {"week": 1, "month": 5, "quarter": 10}

    @model_validator(mode="after")
    def _every_period(self) -> ReportingPolicy:
        missing = {"week", "month", "quarter"} - set(self.due_days)
        if missing or any(days < 0 for days in self.due_days.values()):
            raise ValueError(f"due_days needs week, month and quarter, each >= 0 (missing: {sorted(missing)})")
        return self


class WorkflowPolicy(PolicySection):
    # The length of one policy day in seconds for every workflow timer (SLAs, reminders, escalations,
    # notices, reviews, the identification clock, elimination's months, the sampler): a drill sets a few.
    day_seconds: float = Field(86400, gt=0)
    identification_days: float = Field(15, gt=0)
    public_notice_days: float = Field(5, gt=0)
    review_every_days: int = Field(30, ge=1)
    green_channel_levels: list[str] = ["critical"]
    green_channel_risk_types: list[str] = ["disaster"]
    measure_types: list[str]
    safety_net_measures: list[str]
    work_measures: list[str]
    microcredit_max_cny: float = 50_000
    # Which measures address which risk type: a plan for a household with two or more risk types needs a
    # measure addressing each (empty: no such check).
    measures_for_risk: dict[str, list[str]] = {}
    tasks: dict[str, TaskDefinition]
    escalation: EscalationPolicy = EscalationPolicy()
    elimination: EliminationPolicy = EliminationPolicy()
    inspection: InspectionSampling = InspectionSampling()
    grids: GridRouting = GridRouting()
    sweeps: SweepPolicy = SweepPolicy()
    ledger: LedgerPolicy = LedgerPolicy()
    reporting: ReportingPolicy = ReportingPolicy()

    @model_validator(mode="after")
    def _required_tasks(self) -> WorkflowPolicy:
        required = {"screen", "home_visit", "data_comparison", "comparison_followup", "township_review",
                    "county_approval", "assistance_plan", "measure", "review", "natural_close_review",
                    "inspection"}
        missing = required - set(self.tasks)
        if missing:
            raise ValueError(f"workflow.tasks is missing {sorted(missing)}")
        return self

    def task(self, kind: str) -> TaskDefinition:
        return self.tasks[kind]

    def days(self, days: float) -> float:
        """`days` policy days in seconds."""
        return days * self.day_seconds

"""Policy for risk scoring: monitoring lines, warning thresholds, scoring rules, levels, the flag rule.

Rules are typed and discriminated by `kind`; the risk service's engine interprets each kind, so adding
a rule of an existing kind (another threshold, another state value, other points) is a YAML change.
Reason texts are `str.format` templates; the engine fills in the rule's figures (`{value}`,
`{threshold}`, `{line}`, `{adjusted}`, `{ratio}`, `{count}`, `{state}`, `{facts}`, `{points}`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from safetynet_core.contracts import EventType, RiskType
from safetynet_core.policy.base import PolicySection

PovertyStatus = Literal["lifted", "general"]
Category = Literal["unstable_lifted", "marginal", "sudden_hardship"]
# Trailing-window sums of rigid out-of-pocket spending (刚性支出) a household state keeps.
Metric = Literal["medical_oop", "accident_oop", "education_oop", "disaster_loss"]
# Facts derived from events in the trailing window (or among the triggering events).
Fact = Literal[
    "school_dropout",
    "death",
    "severe_disability",
    "lost_labour",
    "labour_loss",
    "unemployment",
    "self_application",
    "grid_report",
]
# Current-state values: housing is the latest rating (A-D) or disaster damage (partial/destroyed);
# drinking water is the latest issue (unsafe, cut_off_long, cut_off, distance).
StateName = Literal["housing", "drinking_water"]
RuleId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Scalar = str | int | float | bool


class MonitoringLine(PolicySection):
    """Per-capita annual net income line for a region prefix (longest wins), optionally for one year."""

    region_prefix: str = Field("", pattern=r"^\d{0,12}$")
    year: int | None = None
    line_cny: float = Field(gt=0)


class LevelBand(PolicySection):
    name: str
    min_score: float = Field(ge=0)


class ExplainedRule(PolicySection):
    id: RuleId
    reason_zh: str
    reason_en: str


class FlagRule(PolicySection):
    """A case opens when the level is one of `levels`, or (with `any_warning`) when any warning fired; but
    after a household's case closed, only evidence dated after the closure opens one: an assessment whose
    triggering events all occurred before it says so with `stale_evidence` (figures `{closed_at}`, the
    closure's date, and `{close_reason}`)."""

    levels: list[str] = ["high", "critical"]
    any_warning: bool = True
    stale_evidence: ExplainedRule = ExplainedRule(
        id="closed_case_stale_evidence",
        reason_zh="触发事件均早于 {closed_at} 的结案（{close_reason}），不重新立案",
        reason_en="every triggering event occurred before the case closed on {closed_at} ({close_reason}): no new case",
    )


class HouseholdFilter(PolicySection):
    """Which households a threshold applies to; unset fields match everyone."""

    poverty_status: PovertyStatus | None = None
    monitored: bool | None = None


class Threshold(PolicySection):
    when: HouseholdFilter = HouseholdFilter()
    min_cny: float = Field(gt=0)


class RiskTypeMap(PolicySection):
    """How facts become risk types (风险类型); self_application and grid_report carry their own."""

    by_event: dict[EventType, RiskType] = {
        EventType.MEDICAL_EXPENSE: RiskType.ILLNESS,
        EventType.DISABILITY: RiskType.DISABILITY,
        EventType.EDUCATION_EXPENSE: RiskType.EDUCATION,
        EventType.SCHOOL_DROPOUT: RiskType.EDUCATION,
        EventType.DISASTER_LOSS: RiskType.DISASTER,
        EventType.ACCIDENT: RiskType.ACCIDENT,
        EventType.UNEMPLOYMENT: RiskType.UNSTABLE_EMPLOYMENT,
        EventType.DRINKING_WATER: RiskType.DRINKING_WATER,
    }
    by_income_reason: dict[str, RiskType] = {
        "unemployment": RiskType.UNSTABLE_EMPLOYMENT,
        "wage_cut": RiskType.UNSTABLE_EMPLOYMENT,
        "business_failure": RiskType.INDUSTRY_FAILURE,
        "crop_failure": RiskType.INDUSTRY_FAILURE,
        "other": RiskType.OTHER,
    }
    # Housing state values that count as the `housing` risk type; lost labour counts as labour_shortage.
    unsafe_housing: list[str] = ["C", "D", "partial", "destroyed"]


# ---- conditions shared by warning and scoring rules -------------------------------------------------


class TrailingSumCondition(PolicySection):
    """A trailing-window sum reaches the first threshold whose filter matches the household."""

    kind: Literal["trailing_sum"]
    metric: Metric
    thresholds: list[Threshold] = Field(min_length=1)


class SingleAmountCondition(PolicySection):
    """One event in the window (e.g. an inpatient stay) reaches the matching threshold on its own."""

    kind: Literal["single_amount"]
    event_type: EventType
    amount_field: str
    where: dict[str, Scalar] = {}
    thresholds: list[Threshold] = Field(min_length=1)


class StateValueCondition(PolicySection):
    kind: Literal["state_value"]
    state: StateName
    values: list[str] = Field(min_length=1)


class FactPresentCondition(PolicySection):
    """Any of `facts` seen in the trailing window (`window`) or among this assessment's events (`trigger`)."""

    kind: Literal["fact_present"]
    facts: list[Fact] = Field(min_length=1)
    scope: Literal["window", "trigger"] = "window"


class IncomeDropCondition(PolicySection):
    """Year-on-year household income drop (latest income change in the window) of at least `min_ratio`,
    or any of `also_facts` (e.g. unemployment of a working member)."""

    kind: Literal["income_drop"]
    min_ratio: float = Field(gt=0, le=1)
    also_facts: list[Fact] = []


class TrailingRatioCondition(PolicySection):
    """A trailing-window sum reaches `min_ratio` of the household's annual net income."""

    kind: Literal["trailing_ratio"]
    metric: Metric
    min_ratio: float = Field(gt=0)


class DistinctRiskTypesCondition(PolicySection):
    kind: Literal["distinct_risk_types"]
    min_count: int = Field(ge=1)


class WarningFiredCondition(PolicySection):
    kind: Literal["warning_fired"]
    warnings: list[RuleId] = Field(min_length=1)


# ---- warnings (部门筛查预警): any one fired opens a lead --------------------------------------------------


class TrailingSumWarning(ExplainedRule, TrailingSumCondition):
    pass


class SingleAmountWarning(ExplainedRule, SingleAmountCondition):
    pass


class StateValueWarning(ExplainedRule, StateValueCondition):
    pass


class FactPresentWarning(ExplainedRule, FactPresentCondition):
    pass


class IncomeDropWarning(ExplainedRule, IncomeDropCondition):
    pass


class TrailingRatioWarning(ExplainedRule, TrailingRatioCondition):
    pass


WarningRule = Annotated[
    TrailingSumWarning
    | SingleAmountWarning
    | StateValueWarning
    | FactPresentWarning
    | IncomeDropWarning
    | TrailingRatioWarning,
    Field(discriminator="kind"),
]


# ---- scoring rules: explainable points ------------------------------------------------------------------


class _Points(ExplainedRule):
    points: float = Field(gt=0)


class IncomeWithinLineScore(ExplainedRule):
    """`adjusted_income_pc` ≤ line: base + slope × (line − adjusted) / line, at most `max_points`."""

    kind: Literal["income_within_line"]
    base_points: float = Field(50, ge=0)
    slope_points: float = Field(30, ge=0)
    max_points: float = Field(80, gt=0)


class IncomeEdgeScore(_Points):
    """line < `adjusted_income_pc` ≤ `upper_ratio` × line."""

    kind: Literal["income_edge"]
    upper_ratio: float = Field(1.2, gt=1)


class StateValueScore(ExplainedRule):
    kind: Literal["state_value"]
    state: StateName
    points_by_value: dict[str, float] = Field(min_length=1)


class WarningFiredScore(_Points, WarningFiredCondition):
    pass


class TrailingRatioScore(_Points, TrailingRatioCondition):
    pass


class FactPresentScore(_Points, FactPresentCondition):
    pass


class IncomeDropScore(_Points, IncomeDropCondition):
    pass


class DistinctRiskTypesScore(_Points, DistinctRiskTypesCondition):
    pass


class TrailingSumScore(_Points, TrailingSumCondition):
    pass


ScoringRule = Annotated[
    IncomeWithinLineScore
    | IncomeEdgeScore
    | StateValueScore
    | WarningFiredScore
    | TrailingRatioScore
    | FactPresentScore
    | IncomeDropScore
    | DistinctRiskTypesScore
    | TrailingSumScore,
    Field(discriminator="kind"),
]


class RiskPolicy(PolicySection):
    trailing_months: int = Field(12, gt=0)
    monitoring_lines: list[MonitoringLine] = Field(min_length=1)
    levels: list[LevelBand] = Field(min_length=1)
    flag: FlagRule = FlagRule()
    score_cap: float = Field(100, gt=0)
    severe_disability_levels: list[int] = [1, 2]
    water_cut_off_days: int = Field(30, ge=0)
    risk_types: RiskTypeMap = RiskTypeMap()
    warnings: list[WarningRule] = []
    scoring: list[ScoringRule] = []

    @model_validator(mode="after")
    def _consistent(self) -> RiskPolicy:
        for section, rules in (("warnings", self.warnings), ("scoring", self.scoring)):
            ids = [rule.id for rule in rules]
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"{section} rule ids must be unique: {duplicates}")
        warning_ids = {w.id for w in self.warnings}
        for rule in self.scoring:
            if isinstance(rule, WarningFiredCondition) and not set(rule.warnings) <= warning_ids:
                raise ValueError(
                    f"scoring rule {rule.id} names unknown warnings "
                    f"{sorted(set(rule.warnings) - warning_ids)}"
                )
        minimums = [band.min_score for band in self.levels]
        if minimums[0] != 0 or minimums != sorted(minimums) or len(set(minimums)) != len(minimums):
            raise ValueError("levels must start at min_score 0 and increase strictly")
        unknown_levels = set(self.flag.levels) - {band.name for band in self.levels}
        if unknown_levels:
            raise ValueError(f"flag.levels names unknown levels {sorted(unknown_levels)}")
        return self

    def monitoring_line(self, region_code: str, year: int) -> float:
        """The line for a region and year: longest prefix wins; a year-specific entry beats a general one."""
        candidates = [
            line
            for line in self.monitoring_lines
            if region_code.startswith(line.region_prefix) and line.year in (None, year)
        ]
        if not candidates:
            raise LookupError(f"no monitoring line covers region {region_code} in {year}")
        best = max(candidates, key=lambda line: (len(line.region_prefix), line.year is not None))
        return best.line_cny

    def level_for(self, score: float) -> str:
        return [band.name for band in self.levels if score >= band.min_score][-1]

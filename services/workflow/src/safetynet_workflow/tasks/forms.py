"""Task forms (CONTRACT.md, Workflow API) and their validation against the case's policy.

Validation is pure and deterministic, so the workflow's update validators call it: a bad form is
rejected before anything is written. Errors use the platform's one shape (loc naming the field)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from safetynet_core.auth import Department
from safetynet_core.contracts import RiskType
from safetynet_core.policy.workflow import WorkflowPolicy
from safetynet_core.vocabulary import GUARANTEES

Money = float


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScreenForm(_Form):
    decision: Literal["proceed", "dismiss"]
    reason: str | None = Field(None, max_length=2000)


class Guarantees(_Form):
    """两不愁三保障 and safe drinking water, each secure (true) or not."""

    food: bool
    clothing: bool
    compulsory_education: bool
    basic_medical: bool
    housing: bool
    drinking_water: bool

    @property
    def all_secure(self) -> bool:
        return all(getattr(self, name) for name in GUARANTEES)


class HomeVisitForm(_Form):
    visitors: list[str] = Field(min_length=2, max_length=20)
    consent: bool
    verified_annual_income_cny: float = Field(ge=0, le=1e9)
    members_present: int = Field(ge=1, le=100, description="who was at home (never the household size)")
    notes: str = Field("", max_length=4000)
    guarantees: Guarantees
    members: int | None = Field(
        None, ge=1, le=100, description="a correction of the registry's household size, only when it is wrong"
    )
    labour_capacity: Literal["full", "partial", "none"] | None = Field(
        None, description="the household's labour capacity as the visit confirms or corrects it"
    )

    @field_validator("visitors")
    @classmethod
    def _distinct_visitors(cls, value: list[str]) -> list[str]:
        names = {v.strip() for v in value if v.strip()}
        if len(names) < 2:
            raise ValueError("at least two distinct visitors are required")
        return value

    @field_validator("consent")
    @classmethod
    def _consent_given(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("household consent must be recorded (true)")
        return value


class DataComparisonForm(_Form):
    consistent: bool
    notes: str = Field("", max_length=4000)


class FollowUpForm(_Form):
    """How the inconsistencies a data comparison found were resolved."""

    resolution: str = Field(min_length=1, max_length=4000)
    notes: str = Field("", max_length=4000)


class DecisionForm(_Form):
    decision: Literal["approve", "reject"]
    reason: str | None = Field(None, max_length=2000)
    category: Literal["unstable_lifted", "marginal", "sudden_hardship"] | None = None
    risk_types: list[str] | None = None


class Measure(_Form):
    type: str
    member_id: str | None = Field(None, max_length=64)
    department: Department
    description: str = Field(min_length=1, max_length=2000)
    amount_cny: float | None = Field(None, ge=0)
    years: float | None = Field(None, gt=0)


class AssistancePlanForm(_Form):
    measures: list[Measure] = Field(min_length=1, max_length=50)
    responsible: str = Field(
        min_length=1, max_length=100, description="the household's 帮扶责任人: an active user of its region"
    )


class MeasureForm(_Form):
    started_on: date
    notes: str = Field("", max_length=4000)


class ReviewForm(_Form):
    annual_net_income_cny: float = Field(ge=0, le=1e9)
    guarantees: Guarantees
    notes: str = Field("", max_length=4000)
    rigid_costs_resolved: bool = True
    members: int | None = Field(None, ge=1, le=100, description="a correction of the household size")
    guarantees_secure: bool | None = Field(None, description="accepted and ignored (the checklist decides)")


class InspectionForm(_Form):
    result: Literal["pass", "fail"]
    findings: str = Field("", max_length=4000)


class SweepVisitForm(_Form):
    """A sweep (排查) visit: empty `risk_types` means no risk found; any risk becomes a grid_report."""

    met_household: bool
    risk_types: list[RiskType] = Field(default_factory=list, max_length=len(RiskType))
    notes: str = Field("", max_length=4000)


class RectificationForm(_Form):
    """A ledger item closed with evidence of the rectification."""

    evidence: str = Field(min_length=1, max_length=4000)
    notes: str = Field("", max_length=4000)


FORMS: dict[str, type[_Form]] = {
    "screen": ScreenForm,
    "home_visit": HomeVisitForm,
    "data_comparison": DataComparisonForm,
    "comparison_followup": FollowUpForm,
    "township_review": DecisionForm,
    "county_approval": DecisionForm,
    "assistance_plan": AssistancePlanForm,
    "measure": MeasureForm,
    "review": ReviewForm,
    "elimination_visit": HomeVisitForm,
    "elimination_township_check": DecisionForm,
    "elimination_county_decision": DecisionForm,
    "inspection": InspectionForm,
    "natural_close_review": DecisionForm,
    "sweep_visit": SweepVisitForm,
    "correction_review": DecisionForm,
    "correction_approval": DecisionForm,
    "rectification": RectificationForm,
}

MICROCREDIT_MAX_YEARS = 3


class FormInvalid(ValueError):
    """A form failed validation; `errors` are `{"loc", "msg", "type"}` items naming the fields."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


def _error(loc: list[Any], msg: str, type_: str = "value_error") -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": type_}


def _check_plan(
    plan: AssistancePlanForm, policy: WorkflowPolicy, has_labour: bool | None, risk_types: Sequence[str]
) -> list[dict[str, Any]]:
    """Measures the policy knows, microcredit limits, work or safety-net measures by labour capacity (not
    checked while it is unknown), and for two or more risk types a measure addressing each."""
    errors: list[dict[str, Any]] = []
    for i, measure in enumerate(plan.measures):
        if measure.type not in policy.measure_types:
            errors.append(_error(["measures", i, "type"], f"unknown measure type {measure.type!r}"))
        if measure.type == "microcredit":
            if measure.amount_cny is None or measure.amount_cny > policy.microcredit_max_cny:
                errors.append(
                    _error(
                        ["measures", i, "amount_cny"],
                        f"microcredit needs an amount of at most {policy.microcredit_max_cny:.0f} CNY",
                    )
                )
            if measure.years is not None and measure.years > MICROCREDIT_MAX_YEARS:
                errors.append(
                    _error(["measures", i, "years"], f"microcredit runs at most {MICROCREDIT_MAX_YEARS} years")
                )
    types = {m.type for m in plan.measures}
    if has_labour is True and not types & set(policy.work_measures):
        errors.append(
            _error(
                ["measures"],
                "a household that can work needs at least one industry or employment "
                f"measure ({', '.join(policy.work_measures)})",
            )
        )
    if has_labour is False and not types & set(policy.safety_net_measures):
        errors.append(
            _error(
                ["measures"],
                "a household without labour capacity needs a safety-net measure "
                f"({', '.join(policy.safety_net_measures)})",
            )
        )
    if len(set(risk_types)) >= 2:
        for risk in sorted(set(risk_types)):
            addressing = policy.measures_for_risk.get(risk, [])
            if addressing and not types & set(addressing):
                errors.append(
                    _error(
                        ["measures"],
                        f"no measure addresses the household's {risk} risk (one of: {', '.join(addressing)})",
                        "uncovered_risk",
                    )
                )
    return errors


def validate_form(
    kind: str,
    data: dict[str, Any],
    policy: WorkflowPolicy,
    *,
    has_labour: bool | None = True,
    risk_types: Sequence[str] = (),
) -> _Form:
    """Parse `data` as the form of a `kind` task; raise FormInvalid naming every bad field."""
    model = FORMS.get(kind)
    if model is None:
        raise FormInvalid([_error([], f"no form for task kind {kind!r}")])
    try:
        form = model.model_validate(data)
    except ValidationError as exc:
        raise FormInvalid([_error(list(e["loc"]), e["msg"], e["type"]) for e in exc.errors()]) from None
    errors: list[dict[str, Any]] = []
    if isinstance(form, ScreenForm) and form.decision == "dismiss" and not (form.reason or "").strip():
        errors.append(_error(["reason"], "a dismissal needs a reason"))
    if isinstance(form, AssistancePlanForm):
        errors.extend(_check_plan(form, policy, has_labour, risk_types))
    if errors:
        raise FormInvalid(errors)
    return form

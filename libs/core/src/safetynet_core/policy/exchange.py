"""Policy for the outbound data exchange (数据交换和推送): per purpose, the department that receives it, the
rule that selects monitored households (and, for member purposes, their members), the fields each record
carries, the measure types the department acknowledges with `measure_update` events, and the coverage gaps
it closes (the checks themselves: `coverage`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from safetynet_core.contracts import DEPARTMENT_EVENT_TYPES, RiskType
from safetynet_core.policy.coverage import GAP_KINDS, CoveragePolicy

Category = Literal["unstable_lifted", "marginal", "sudden_hardship"]
LabourCapacity = Literal["full", "partial", "none"]
# What a household record can carry: the case's facts and the registry's household size and labour.
HOUSEHOLD_FIELDS = (
    "case_id",
    "household_id",
    "region_code",
    "category",
    "risk_types",
    "included_at",
    "members",
    "labour_members",
)
# A member record adds the member's registry facts; never the ID number beyond its masked form, never the
# full birth date (its year and the age at inclusion instead).
MEMBER_FIELDS = (
    *HOUSEHOLD_FIELDS,
    "member_id",
    "name",
    "id_number_masked",
    "birth_year",
    "age",
    "labour_capacity",
    "in_school",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Unit(StrEnum):
    HOUSEHOLD = "household"
    MEMBER = "member"


class HouseholdRule(_Frozen):
    """A household matches when every condition set here holds (an empty list sets none)."""

    categories: list[Category] = []
    risk_types_any: list[RiskType] = []
    labour: Literal["any", "with", "without"] = "any"  # a member with full or partial labour capacity


class MemberRule(_Frozen):
    """A member matches when every condition set here holds; ages are whole years at inclusion."""

    labour_capacity: list[LabourCapacity] = []
    min_age: int | None = Field(None, ge=0, le=130)
    max_age: int | None = Field(None, ge=0, le=130)
    in_school: bool | None = None


class PurposePolicy(_Frozen):
    """One exchange purpose. `households` are alternatives: a household is selected when any one matches."""

    department: str
    description: str
    unit: Unit = Unit.HOUSEHOLD
    households: list[HouseholdRule] = Field(default_factory=lambda: [HouseholdRule()], min_length=1)
    members: MemberRule = MemberRule()
    fields: list[str] = Field(min_length=1)
    measure_types: list[str] = []
    coverage_gaps: list[str] = []  # the coverage gaps the department closes: a record for each one found

    @model_validator(mode="after")
    def _consistent(self) -> PurposePolicy:
        if self.department not in DEPARTMENT_EVENT_TYPES:
            raise ValueError(f"unknown department {self.department!r}")
        unknown_gaps = [g for g in self.coverage_gaps if g not in GAP_KINDS]
        if unknown_gaps:
            raise ValueError(f"coverage_gaps {unknown_gaps} are not gaps; gaps are {GAP_KINDS}")
        allowed = MEMBER_FIELDS if self.unit is Unit.MEMBER else HOUSEHOLD_FIELDS
        unknown = [f for f in self.fields if f not in allowed]
        if unknown:
            raise ValueError(f"fields {unknown} are not available to a {self.unit.value} purpose; allowed: {allowed}")
        if self.unit is Unit.HOUSEHOLD and self.members != MemberRule():
            raise ValueError("a member rule needs unit: member")
        return self

    @property
    def needs_registry(self) -> bool:
        """Whether selecting or describing its records needs the household's registry record."""
        registry_fields = {"members", "labour_members", *MEMBER_FIELDS[len(HOUSEHOLD_FIELDS) :]}
        return (
            self.unit is Unit.MEMBER
            or any(rule.labour != "any" for rule in self.households)
            or bool(registry_fields & set(self.fields))
        )


class ExchangePolicy(_Frozen):
    """Households are included (and their records exchanged) when their case reaches `included_at_step`;
    the `coverage` checks run on every included household while its case is open."""

    included_at_step: str = "assist"
    purposes: dict[str, PurposePolicy] = {}
    coverage: CoveragePolicy = CoveragePolicy()

    @model_validator(mode="after")
    def _names(self) -> ExchangePolicy:
        bad = [name for name in self.purposes if not name.replace("_", "").isalnum() or not name.islower()]
        if bad:
            raise ValueError(f"purpose names are lower_snake_case: {bad}")
        unchecked = {g for p in self.purposes.values() for g in p.coverage_gaps} - set(self.coverage.gaps)
        if unchecked:
            raise ValueError(f"purposes close coverage gaps {sorted(unchecked)} that coverage does not check")
        return self

"""The exchange's records: what a purpose hands a department (a typed record model per purpose, cut down to
its fields), the facts they are made from (the case, the household's registry members, its coverage gaps),
and the rules that select households and members (policy data, `safetynet_core.policy.exchange`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, Literal

from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, create_model

from safetynet_core.contracts import now_utc
from safetynet_core.coverage import CoverageGap, GapReason
from safetynet_core.policy.exchange import (
    Category,
    HouseholdRule,
    LabourCapacity,
    MemberRule,
    PurposePolicy,
    Unit,
)

INCLUDED, MEASURE, COVERAGE_GAP = "included", "measure", "coverage_gap"
WORKING = frozenset({"full", "partial"})

EXCHANGED = Counter(
    "safetynet_notify_exchange_records_total",
    "Records handed to departments through the outbound exchange, by purpose and mode (pull, push)",
    ["purpose", "mode"],
)

# The type of every field a record may carry (the purpose's `fields` pick among them).
FIELD_TYPES: dict[str, tuple[Any, str]] = {
    "case_id": (str, "the case; name it in measure_update acknowledgements"),
    "household_id": (str, "the registry's household id"),
    "region_code": (str, "12-digit administrative division code of the household"),
    "category": (Category | None, "unstable_lifted, marginal or sudden_hardship"),
    "risk_types": (list[str] | None, "the case's risk types"),
    "included_at": (datetime | None, "when the household was included in monitoring"),
    "members": (int | None, "household size (registry)"),
    "labour_members": (int | None, "members with full or partial labour capacity (registry)"),
    "member_id": (str, "the registry's member id"),
    "name": (str, "the member's name"),
    "id_number_masked": (str, "the ID number with all but its last four characters hidden"),
    "birth_year": (int | None, "year of birth"),
    "age": (int | None, "whole years at inclusion"),
    "labour_capacity": (LabourCapacity | None, "full, partial or none"),
    "in_school": (bool | None, "in school according to the registry"),
}


class MeasureTask(BaseModel):
    """The measure task a `measure` change is about: acknowledge it with a measure_update event."""

    task_id: str
    measure_type: str
    member_id: str | None = None
    due_at: datetime | None = None


class CoverageGapOut(BaseModel):
    """The coverage gap a `coverage_gap` change is about: once closed, report the member's status with an
    insurance_status or employment_status event."""

    gap: str = Field(description="an insurance scheme (basic_medical, anti_poverty_insurance) or employment")
    member_id: str | None = Field(description="the member not insured; null for employment (the household)")
    reason: GapReason = Field(
        description="reported: a department reported it; lapsed: insured in an earlier year only; "
        "unreported: nobody reported (when the county's policy counts that)"
    )
    since: date | None = Field(description="since when: 1 January for a year not insured, else the report's day")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    change: Literal["included", "measure", "coverage_gap"] = Field(
        description="included: the household (or member) was selected at inclusion or by a later registry "
        "record; measure: a measure task was assigned to the department; coverage_gap: a coverage check "
        "found a gap the department closes"
    )
    measure: MeasureTask | None = None
    coverage_gap: CoverageGapOut | None = None


def record_model(name: str, purpose: PurposePolicy) -> type[BaseModel]:
    """The record a purpose hands out: exactly its fields (each may be null when unknown)."""
    return _record_model(name, tuple(purpose.fields), f"{purpose.department}: {purpose.description}")


@cache
def _record_model(name: str, fields: tuple[str, ...], doc: str) -> type[BaseModel]:
    typed: dict[str, Any] = {
        field: (FIELD_TYPES[field][0] | None, Field(description=FIELD_TYPES[field][1])) for field in fields
    }
    title = "".join(part.title() for part in name.split("_"))
    model: type[BaseModel] = create_model(f"{title}Record", __base__=_Record, __doc__=doc, **typed)
    return model


@dataclass(frozen=True)
class CaseFacts:
    """What notify knows about a case from case events."""

    case_id: str
    household_id: str
    region_code: str
    category: str | None
    risk_types: list[str] | None
    included_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class Household:
    """The registry facts of a household (the latest registry record on household-events)."""

    household_id: str
    region_code: str
    members: list[dict[str, Any]]
    recorded_at: datetime | None = None

    @property
    def labour_members(self) -> int:
        return sum(1 for m in self.members if m.get("labour_capacity") in WORKING)


def age_on(birth_date: str | None, day: date) -> int | None:
    try:
        born = date.fromisoformat(birth_date or "")
    except ValueError:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _household_matches(rule: HouseholdRule, facts: CaseFacts, household: Household | None) -> bool:
    if rule.categories and facts.category not in rule.categories:
        return False
    if rule.risk_types_any and not set(rule.risk_types_any) & set(facts.risk_types or ()):
        return False
    if rule.labour == "any":
        return True
    return household is not None and (household.labour_members > 0) == (rule.labour == "with")


def _member_matches(rule: MemberRule, member: dict[str, Any], age: int | None) -> bool:
    if rule.labour_capacity and member.get("labour_capacity") not in rule.labour_capacity:
        return False
    if rule.in_school is not None and bool(member.get("in_school")) != rule.in_school:
        return False
    if rule.min_age is not None and (age is None or age < rule.min_age):
        return False
    return rule.max_age is None or (age is not None and age <= rule.max_age)


def _household_values(facts: CaseFacts, household: Household | None) -> dict[str, Any]:
    return {
        "case_id": facts.case_id,
        "household_id": facts.household_id,
        "region_code": facts.region_code,
        "category": facts.category,
        "risk_types": facts.risk_types,
        "included_at": facts.included_at,
        "members": len(household.members) if household else None,
        "labour_members": household.labour_members if household else None,
    }


def _member_values(member: dict[str, Any], age: int | None) -> dict[str, Any]:
    birth = member.get("birth_date") or ""
    return {
        "member_id": member.get("member_id"),
        "name": member.get("name"),
        "id_number_masked": member.get("id_number_masked"),
        "birth_year": int(birth[:4]) if birth[:4].isdigit() else None,
        "age": age,
        "labour_capacity": member.get("labour_capacity"),
        "in_school": member.get("in_school"),
    }


def _named_member(facts: CaseFacts, household: Household | None, member_id: str | None) -> dict[str, Any]:
    """The member fields of the registry member a record names (none when unnamed or unknown)."""
    members = household.members if household is not None and member_id is not None else []
    member = next((m for m in members if m.get("member_id") == member_id), None)
    if member is None:
        return {}
    return _member_values(member, age_on(member.get("birth_date"), (facts.included_at or now_utc()).date()))


def _record(name: str, purpose: PurposePolicy, values: dict[str, Any]) -> dict[str, Any]:
    chosen = {field: values.get(field) for field in purpose.fields}
    record = record_model(name, purpose).model_validate(
        {**chosen, "change": values["change"], "measure": values.get("measure"), "coverage_gap": values.get("gap")}
    )
    return record.model_dump(mode="json")


def inclusion_records(
    name: str, purpose: PurposePolicy, facts: CaseFacts, household: Household | None
) -> list[tuple[str, dict[str, Any]]]:
    """(subject, record) for what the purpose selects of an included case: the household (subject "") or
    each selected member (subject = member id). None yet while a needed registry record is unknown."""
    if purpose.needs_registry and household is None:
        return []
    if not any(_household_matches(rule, facts, household) for rule in purpose.households):
        return []
    base = {**_household_values(facts, household), "change": INCLUDED}
    if purpose.unit is Unit.HOUSEHOLD:
        return [("", _record(name, purpose, base))]
    assert household is not None  # noqa: S101 (member purposes are only asked with the household's facts)
    on = (facts.included_at or now_utc()).date()
    selected = []
    for member in household.members:
        age = age_on(member.get("birth_date"), on)
        if _member_matches(purpose.members, member, age):
            selected.append((str(member["member_id"]), _record(name, purpose, {**base, **_member_values(member, age)})))
    return selected


def measure_record(
    name: str, purpose: PurposePolicy, facts: CaseFacts, household: Household | None, task: MeasureTask
) -> tuple[str, dict[str, Any]]:
    """(subject, record) of a measure task: the household's fields, the task, and the member it names."""
    record = _change_record(name, purpose, facts, household, task.member_id, MEASURE, measure=task.model_dump())
    return f"task:{task.task_id}", record


def gap_record(
    name: str, purpose: PurposePolicy, facts: CaseFacts, household: Household | None, gap: CoverageGap
) -> tuple[str, dict[str, Any]]:
    """(subject, record) of a coverage gap: the household's fields, the gap, and the member it names."""
    return gap.key, _change_record(name, purpose, facts, household, gap.member_id, COVERAGE_GAP, gap=gap.as_json())


def _change_record(
    name: str,
    purpose: PurposePolicy,
    facts: CaseFacts,
    household: Household | None,
    member_id: str | None,
    change: str,
    **details: Any,
) -> dict[str, Any]:
    values = {**_household_values(facts, household), **_named_member(facts, household, member_id)}
    return _record(name, purpose, {**values, "change": change, **details})


# ---- storage -----------------------------------------------------------------------------------------


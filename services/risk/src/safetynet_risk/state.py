"""Household state from stored facts: the registry baseline plus every event, reduced to what the rules
read (trailing-window sums, current housing and water state, facts, income, risk types). Pure code."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from safetynet_core.contracts import EventType, RiskType
from safetynet_core.policy.risk import Fact, Metric, RiskPolicy

REGISTRY_RECORD = "registry_record"
WORKING_CAPACITIES = frozenset({"full", "partial"})

# Which payload amount feeds which trailing sum of rigid spending.
METRIC_SOURCES: dict[Metric, tuple[EventType, str]] = {
    "medical_oop": (EventType.MEDICAL_EXPENSE, "out_of_pocket_cny"),
    "accident_oop": (EventType.ACCIDENT, "out_of_pocket_cny"),
    "education_oop": (EventType.EDUCATION_EXPENSE, "out_of_pocket_cny"),
    "disaster_loss": (EventType.DISASTER_LOSS, "loss_cny"),
}


@dataclass(frozen=True)
class Member:
    member_id: str
    labour_capacity: str = "full"
    in_school: bool = False


@dataclass(frozen=True)
class RegistryRecord:
    """The rural revitalization registry's baseline for a household (no PII beyond ids)."""

    household_id: str
    region_code: str
    poverty_status: str
    annual_net_income_cny: float
    members: tuple[Member, ...]
    recorded_at: datetime

    def as_payload(self) -> dict[str, Any]:
        return {
            "region_code": self.region_code,
            "poverty_status": self.poverty_status,
            "annual_net_income_cny": self.annual_net_income_cny,
            "members": [
                {"member_id": m.member_id, "labour_capacity": m.labour_capacity, "in_school": m.in_school}
                for m in self.members
            ],
        }

    @classmethod
    def from_payload(
        cls, household_id: str, recorded_at: datetime, payload: Mapping[str, Any]
    ) -> RegistryRecord:
        return cls(
            household_id=household_id,
            region_code=payload["region_code"],
            poverty_status=payload["poverty_status"],
            annual_net_income_cny=float(payload["annual_net_income_cny"]),
            members=tuple(
                Member(m["member_id"], m.get("labour_capacity", "full"), bool(m.get("in_school")))
                for m in payload["members"]
            ),
            recorded_at=recorded_at,
        )


@dataclass(frozen=True)
class StoredFact:
    """One department event as stored: type, who, when, and its validated payload."""

    event_id: str
    type: str
    occurred_at: datetime
    payload: Mapping[str, Any]
    member_id: str = ""


@dataclass
class HouseholdState:
    registry: RegistryRecord
    as_of: datetime
    window_start: datetime
    member_count: int
    annual_income: float
    trailing: dict[Metric, float]
    window_events: list[StoredFact]
    facts: dict[Fact, list[str]] = field(default_factory=dict)
    housing: str | None = None
    drinking_water: str | None = None
    income_drop_ratio: float | None = None
    risk_types: list[str] = field(default_factory=list)

    @property
    def income_pc(self) -> float:
        return self.annual_income / self.member_count

    @property
    def rigid_spending(self) -> float:
        return sum(self.trailing.values())

    @property
    def adjusted_income_pc(self) -> float:
        return (self.annual_income - self.rigid_spending) / self.member_count


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock moment `months` calendar months earlier (day clamped to the month's end)."""
    total = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    days_in_month = [
        31,
        29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return moment.replace(year=year, month=month, day=min(moment.day, days_in_month))


def _water_state(payload: Mapping[str, Any], cut_off_days: int) -> str:
    issue = str(payload.get("issue"))
    if issue == "quality":
        return "unsafe"
    if issue == "cut_off":
        return "cut_off_long" if int(payload.get("days_affected", 0)) > cut_off_days else "cut_off"
    return issue


def _housing_state(event: StoredFact) -> str | None:
    if event.type == EventType.HOUSING_SAFETY:
        return str(event.payload.get("rating"))
    if event.type == EventType.DISASTER_LOSS and event.payload.get("housing_damage") in (
        "partial",
        "destroyed",
    ):
        return str(event.payload["housing_damage"])
    return None


def _derived_facts(event: StoredFact, policy: RiskPolicy, working: set[str]) -> list[Fact]:
    """The facts one event establishes (labour_loss only for a working or unknown member)."""
    found: list[Fact] = []
    kind = event.type
    if kind == EventType.SCHOOL_DROPOUT:
        found.append("school_dropout")
    elif kind == EventType.DEATH:
        found.append("death")
    elif (
        kind == EventType.DISABILITY and int(event.payload.get("level", 0)) in policy.severe_disability_levels
    ):
        found.append("severe_disability")
    elif kind == EventType.ACCIDENT and event.payload.get("lost_labour"):
        found.append("lost_labour")
    elif kind == EventType.UNEMPLOYMENT:
        found.append("unemployment")
    elif kind == EventType.SELF_APPLICATION:
        found.append("self_application")
    elif kind == EventType.GRID_REPORT:
        found.append("grid_report")
    if set(found) & {"death", "severe_disability", "lost_labour"} and (
        not event.member_id or event.member_id in working
    ):
        found.append("labour_loss")
    return found


_EVENT_TYPES: dict[str, EventType] = {event_type.value: event_type for event_type in EventType}


def _risk_types_of(event: StoredFact, policy: RiskPolicy) -> list[str]:
    mapping = policy.risk_types
    found: list[str] = []
    event_type = _EVENT_TYPES.get(event.type)
    mapped = None if event_type is None else mapping.by_event.get(event_type)
    if mapped is not None:
        found.append(mapped.value)
    if event.type == EventType.INCOME_CHANGE:
        reason_type = mapping.by_income_reason.get(str(event.payload.get("reason")))
        if reason_type is not None:
            found.append(reason_type.value)
    if event.type == EventType.SELF_APPLICATION:
        found.extend(str(r) for r in event.payload.get("reasons", []))
    if event.type == EventType.GRID_REPORT:
        found.extend(str(r) for r in event.payload.get("risk_types", []))
    return found


def build_state(
    registry: RegistryRecord, events: Iterable[StoredFact], policy: RiskPolicy, as_of: datetime
) -> HouseholdState:
    """Reduce the registry record and the household's events up to `as_of` to the rules' inputs."""
    window_start = months_before(as_of, policy.trailing_months)
    history = sorted((e for e in events if e.occurred_at <= as_of), key=lambda e: (e.occurred_at, e.event_id))
    working = {m.member_id for m in registry.members if m.labour_capacity in WORKING_CAPACITIES}
    deceased = {e.member_id for e in history if e.type == EventType.DEATH and e.member_id}
    alive = [m for m in registry.members if m.member_id not in deceased]

    income, income_at = registry.annual_net_income_cny, registry.recorded_at
    for event in history:
        if event.type == EventType.INCOME_CHANGE and event.occurred_at >= income_at:
            income, income_at = float(event.payload["current_annual_income_cny"]), event.occurred_at

    window = [e for e in history if e.occurred_at > window_start]
    trailing: dict[Metric, float] = {}
    for metric, (event_type, amount_field) in METRIC_SOURCES.items():
        trailing[metric] = sum(float(e.payload.get(amount_field, 0)) for e in window if e.type == event_type)

    state = HouseholdState(
        registry=registry,
        as_of=as_of,
        window_start=window_start,
        member_count=max(len(alive), 1),
        annual_income=income,
        trailing=trailing,
        window_events=window,
    )
    facts: dict[Fact, list[str]] = defaultdict(list)
    risk_types: dict[str, None] = {}
    for event in window:
        for fact in _derived_facts(event, policy, working):
            facts[fact].append(event.event_id)
        for risk_type in _risk_types_of(event, policy):
            risk_types[risk_type] = None
        state.housing = _housing_state(event) or state.housing
        if event.type == EventType.DRINKING_WATER:
            state.drinking_water = _water_state(event.payload, policy.water_cut_off_days)
        if event.type == EventType.INCOME_CHANGE:
            previous = float(event.payload["previous_annual_income_cny"])
            current = float(event.payload["current_annual_income_cny"])
            state.income_drop_ratio = (previous - current) / previous if previous > 0 else None
    if state.housing in policy.risk_types.unsafe_housing:
        risk_types[RiskType.HOUSING.value] = None
    if facts.get("labour_loss"):
        risk_types[RiskType.LABOUR_SHORTAGE.value] = None
    state.facts = dict(facts)
    state.risk_types = sorted(risk_types)
    return state

"""Household state from stored facts: the registry baseline plus every event, reduced to what the rules
read (trailing-window sums, current housing and water state, facts, income, risk types). Pure code."""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from safetynet_core.contracts import EVENT_TYPES, EventType, RiskType
from safetynet_core.policy.risk import Fact, Metric, RiskPolicy
from safetynet_risk.memo import per_policy

REGISTRY_RECORD = "registry_record"
WORKING_CAPACITIES = frozenset({"full", "partial"})

# Which payload amount feeds which trailing sum of rigid spending.
METRIC_SOURCES: dict[Metric, tuple[EventType, str]] = {
    "medical_oop": (EventType.MEDICAL_EXPENSE, "out_of_pocket_cny"),
    "accident_oop": (EventType.ACCIDENT, "out_of_pocket_cny"),
    "education_oop": (EventType.EDUCATION_EXPENSE, "out_of_pocket_cny"),
    "disaster_loss": (EventType.DISASTER_LOSS, "loss_cny"),
}


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    labour_capacity: str = "full"
    in_school: bool = False


@dataclass(frozen=True, slots=True)
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
    def from_payload(cls, household_id: str, recorded_at: datetime, payload: Mapping[str, Any]) -> RegistryRecord:
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


@dataclass(frozen=True, slots=True)
class StoredFact:
    """One department event as stored: type, who, when, and its validated payload."""

    event_id: str
    type: str
    occurred_at: datetime
    payload: Mapping[str, Any]
    member_id: str = ""


@dataclass(slots=True)
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
    elif kind == EventType.DISABILITY and int(event.payload.get("level", 0)) in policy.severe_disability_levels:
        found.append("severe_disability")
    elif kind == EventType.ACCIDENT and event.payload.get("lost_labour"):
        found.append("lost_labour")
    elif kind == EventType.UNEMPLOYMENT:
        found.append("unemployment")
    elif kind == EventType.SELF_APPLICATION:
        found.append("self_application")
    elif kind == EventType.GRID_REPORT:
        found.append("grid_report")
    if not _LABOUR_FACTS.isdisjoint(found) and (not event.member_id or event.member_id in working):
        found.append("labour_loss")
    return found


def _risk_types_of(event: StoredFact, policy: RiskPolicy) -> list[str]:
    mapping = policy.risk_types
    found: list[str] = []
    event_type = EVENT_TYPES.get(event.type)
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
    return build_prepared_state(registry, [PreparedFact(event, policy) for event in events], policy, as_of)


_LABOUR_FACTS = frozenset({"death", "severe_disability", "lost_labour"})
_METRICS_BY_TYPE: dict[str, list[tuple[Metric, str]]] = defaultdict(list)
for _metric, (_event_type, _amount_field) in METRIC_SOURCES.items():
    _METRICS_BY_TYPE[_event_type.value].append((_metric, _amount_field))


class PreparedFact:
    """A stored fact with everything `build_state` derives from it alone worked out once (for one policy),
    so a household's state is a few sums over its prepared facts."""

    __slots__ = (
        "amounts",
        "base_facts",
        "death_member",
        "event_id",
        "fact",
        "housing",
        "income_current",
        "income_drop",
        "is_income_change",
        "labour_member",
        "occurred_at",
        "policy",
        "risk_types",
        "sort_key",
        "water",
    )

    def __init__(self, fact: StoredFact, policy: RiskPolicy) -> None:
        self.fact = fact
        self.policy = policy
        self.event_id = event_id = fact.event_id
        self.occurred_at = occurred_at = fact.occurred_at
        self.sort_key = (occurred_at, event_id)
        kind = fact.type
        payload = fact.payload
        self.death_member = fact.member_id if kind == _DEATH and fact.member_id else None
        self.is_income_change = kind == _INCOME_CHANGE
        self.income_current: float | None = None
        self.income_drop: float | None = None
        if self.is_income_change:
            self.income_current = float(payload["current_annual_income_cny"])
            previous = float(payload["previous_annual_income_cny"])
            self.income_drop = (previous - self.income_current) / previous if previous > 0 else None
        metrics = _METRICS_BY_TYPE.get(kind)
        self.amounts: tuple[tuple[Metric, float], ...] = (
            tuple([(metric, float(payload.get(field, 0))) for metric, field in metrics]) if metrics else ()
        )
        self.housing = _housing_state(fact) if kind in _HOUSING_TYPES else None
        self.water = _water_state(payload, policy.water_cut_off_days) if kind == _DRINKING_WATER else None
        static = _static_parts(policy).get(kind)
        if static is None or kind in _PAYLOAD_DEPENDENT:  # worked out from the payload, as build_state did
            found = _derived_facts(fact, policy, set())  # labour_loss depends on the registry: decided in the sum
            self.base_facts: tuple[Fact, ...] = tuple(f for f in found if f != "labour_loss")
            labour = not _LABOUR_FACTS.isdisjoint(found)
            self.risk_types: tuple[str, ...] = tuple(_risk_types_of(fact, policy))
        else:
            self.base_facts, labour, self.risk_types = static
        # Who a labour-loss fact concerns ("" for the whole household), None when the event is no labour loss.
        self.labour_member: str | None = fact.member_id if labour else None


_DEATH = EventType.DEATH.value
_INCOME_CHANGE = EventType.INCOME_CHANGE.value
_DRINKING_WATER = EventType.DRINKING_WATER.value
_HOUSING_TYPES = frozenset({EventType.HOUSING_SAFETY.value, EventType.DISASTER_LOSS.value})
# Event types whose facts or risk types depend on the payload (the rest depend on the type alone).
_PAYLOAD_DEPENDENT = frozenset(
    {
        EventType.DISABILITY.value,
        EventType.ACCIDENT.value,
        EventType.INCOME_CHANGE.value,
        EventType.SELF_APPLICATION.value,
        EventType.GRID_REPORT.value,
    }
)
StaticParts = dict[str, tuple[tuple[Fact, ...], bool, tuple[str, ...]]]
_STATIC: list[tuple[object, StaticParts]] = []


def _static_parts(policy: RiskPolicy) -> StaticParts:
    """Per event type whose derived facts and risk types depend on the type alone: (facts without
    labour_loss, whether it is a labour loss, risk types), worked out once per policy."""

    def build() -> StaticParts:
        parts: StaticParts = {}
        for event_type in EventType:
            if event_type.value in _PAYLOAD_DEPENDENT:
                continue
            probe = StoredFact(event_id="", type=event_type.value, occurred_at=datetime.min, payload={})
            found = _derived_facts(probe, policy, set())
            parts[event_type.value] = (
                tuple(f for f in found if f != "labour_loss"),
                bool(set(found) & _LABOUR_FACTS),
                tuple(_risk_types_of(probe, policy)),
            )
        return parts

    return per_policy(_STATIC, policy, build)


_sort_key = operator.attrgetter("sort_key")


def build_prepared_state(
    registry: RegistryRecord, events: Iterable[PreparedFact], policy: RiskPolicy, as_of: datetime
) -> HouseholdState:
    """`build_state` over prepared facts (prepared for this `policy`); the same state, cheaper."""
    window_start = months_before(as_of, policy.trailing_months)
    history = sorted((e for e in events if e.occurred_at <= as_of), key=_sort_key)
    members = registry.members
    deceased = {e.death_member for e in history if e.death_member is not None}
    alive = len(members) if not deceased else sum(1 for m in members if m.member_id not in deceased)

    income, income_at = registry.annual_net_income_cny, registry.recorded_at
    window: list[PreparedFact] = []
    for event in history:
        if event.is_income_change and event.occurred_at >= income_at:
            income, income_at = event.income_current, event.occurred_at  # type: ignore[assignment]
        if event.occurred_at > window_start:
            window.append(event)

    trailing: dict[Metric, float] = dict.fromkeys(METRIC_SOURCES, 0)
    facts: dict[Fact, list[str]] = {}
    risk_types: dict[str, None] = {}
    housing: str | None = None
    drinking_water: str | None = None
    income_drop_ratio: float | None = None
    working: set[str] | None = None
    for event in window:
        for metric, amount in event.amounts:
            trailing[metric] += amount
        for fact in event.base_facts:
            facts.setdefault(fact, []).append(event.event_id)
        if event.labour_member is not None:
            if event.labour_member and working is None:
                working = {m.member_id for m in members if m.labour_capacity in WORKING_CAPACITIES}
            if not event.labour_member or event.labour_member in working:  # type: ignore[operator]
                facts.setdefault("labour_loss", []).append(event.event_id)
        for risk_type in event.risk_types:
            risk_types[risk_type] = None
        if event.housing:  # as `_housing_state(event) or state.housing`
            housing = event.housing
        if event.water is not None:
            drinking_water = event.water
        if event.is_income_change:
            income_drop_ratio = event.income_drop
    if housing in policy.risk_types.unsafe_housing:
        risk_types[RiskType.HOUSING.value] = None
    if facts.get("labour_loss"):
        risk_types[RiskType.LABOUR_SHORTAGE.value] = None
    return HouseholdState(
        registry=registry,
        as_of=as_of,
        window_start=window_start,
        member_count=max(alive, 1),
        annual_income=income,
        trailing=trailing,
        window_events=[e.fact for e in window],
        facts=facts,
        housing=housing,
        drinking_water=drinking_water,
        income_drop_ratio=income_drop_ratio,
        risk_types=sorted(risk_types),
    )

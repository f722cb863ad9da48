"""`build_state` now sums facts prepared once (PreparedFact); it must give exactly the state the original
event-by-event reduction gave. The original is kept here as the reference."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from safetynet_core.contracts import EventType, RiskType
from safetynet_core.policy import load_policy
from safetynet_core.policy.risk import Fact, Metric, RiskPolicy
from safetynet_core.settings import DEFAULT_POLICY_FILE
from safetynet_risk.state import (
    METRIC_SOURCES,
    WORKING_CAPACITIES,
    HouseholdState,
    Member,
    PreparedFact,
    RegistryRecord,
    StoredFact,
    _derived_facts,
    _housing_state,
    _risk_types_of,
    _water_state,
    build_prepared_state,
    build_state,
    months_before,
)

POLICY = load_policy(DEFAULT_POLICY_FILE).risk
AS_OF = datetime(2026, 6, 30, 12, tzinfo=UTC)


def reference_build_state(
    registry: RegistryRecord, events: Iterable[StoredFact], policy: RiskPolicy, as_of: datetime
) -> HouseholdState:
    """The original build_state, verbatim."""
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


amounts = st.one_of(st.integers(0, 60_000), st.floats(0, 60_000, allow_nan=False))
payloads: dict[str, Any] = {
    "medical_expense": st.fixed_dictionaries(
        {"total_cost_cny": amounts, "out_of_pocket_cny": amounts, "inpatient": st.booleans()}
    ),
    "accident": st.fixed_dictionaries({"out_of_pocket_cny": amounts, "lost_labour": st.booleans()}),
    "education_expense": st.fixed_dictionaries({"out_of_pocket_cny": amounts, "stage": st.just("high_school")}),
    "disaster_loss": st.fixed_dictionaries(
        {"loss_cny": amounts, "housing_damage": st.sampled_from(["none", "minor", "partial", "destroyed", ""])}
    ),
    "income_change": st.fixed_dictionaries(
        {
            "previous_annual_income_cny": amounts,
            "current_annual_income_cny": amounts,
            "reason": st.sampled_from(["unemployment", "wage_cut", "crop_failure", "other", "lottery"]),
        }
    ),
    "housing_safety": st.fixed_dictionaries({"rating": st.sampled_from(["A", "B", "C", "D", ""])}),
    "drinking_water": st.fixed_dictionaries(
        {"issue": st.sampled_from(["quality", "cut_off", "shortage", ""]), "days_affected": st.integers(0, 90)}
    ),
    "disability": st.fixed_dictionaries({"level": st.integers(1, 4)}),
    "death": st.just({}),
    "school_dropout": st.fixed_dictionaries({"grade": st.integers(1, 12)}),
    "unemployment": st.fixed_dictionaries({"previous_monthly_wage_cny": amounts}),
    "self_application": st.fixed_dictionaries({"reasons": st.lists(st.sampled_from(["illness", "disaster"]))}),
    "grid_report": st.fixed_dictionaries({"risk_types": st.lists(st.sampled_from(["illness", "education"]))}),
}
MEMBERS = ["m0", "m1", "m2", "m3", ""]


@st.composite
def events(draw: st.DrawFn) -> list[StoredFact]:
    found = []
    for i in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(sorted(payloads)))
        found.append(
            StoredFact(
                event_id=f"e{draw(st.integers(0, 5))}-{i}",
                type=kind,
                occurred_at=AS_OF - timedelta(days=draw(st.sampled_from([-3, 0, 1, 30, 200, 364, 365, 366, 500]))),
                payload=draw(payloads[kind]),
                member_id=draw(st.sampled_from(MEMBERS)),
            )
        )
    return found


@st.composite
def registries(draw: st.DrawFn) -> RegistryRecord:
    capacities = draw(st.lists(st.sampled_from(["full", "partial", "none"]), min_size=1, max_size=4))
    return RegistryRecord(
        household_id="H1",
        region_code="610327101201",
        poverty_status=draw(st.sampled_from(["lifted", "general"])),
        annual_net_income_cny=float(draw(st.integers(0, 90_000))),
        members=tuple(Member(f"m{i}", capacity) for i, capacity in enumerate(capacities)),
        recorded_at=AS_OF - timedelta(days=draw(st.sampled_from([10, 100, 300]))),
    )


@settings(max_examples=400, deadline=None)
@given(registries(), events())
def test_prepared_state_is_the_reference_state(registry: RegistryRecord, stored: list[StoredFact]) -> None:
    expected = reference_build_state(registry, stored, POLICY, AS_OF)
    assert repr(build_state(registry, stored, POLICY, AS_OF)) == repr(expected)  # repr: 0 and 0.0 differ
    prepared = [PreparedFact(fact, POLICY) for fact in stored]
    assert repr(build_prepared_state(registry, prepared, POLICY, AS_OF)) == repr(expected)

"""Unit tests of the risk engine: every rule kind of the default policy, the category logic and the
worked examples of DESIGN.md / issue 4."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safetynet_core.policy import Policy, load_policy
from safetynet_core.settings import DEFAULT_POLICY_FILE
from safetynet_risk.casestate import NO_CASE, CaseState
from safetynet_risk.engine import Scored, assess, render
from safetynet_risk.state import Member, RegistryRecord, StoredFact, build_state, months_before

POLICY = load_policy(DEFAULT_POLICY_FILE)
AS_OF = datetime(2026, 6, 30, 12, tzinfo=UTC)
VILLAGE = "610327101201"


def household(
    income: float,
    members: int = 4,
    status: str = "lifted",
    capacities: list[str] | None = None,
    region: str = VILLAGE,
) -> RegistryRecord:
    capacities = capacities or ["full"] * members
    return RegistryRecord(
        household_id="H1",
        region_code=region,
        poverty_status=status,
        annual_net_income_cny=income,
        members=tuple(Member(f"m{i}", cap) for i, cap in enumerate(capacities)),
        recorded_at=AS_OF - timedelta(days=300),
    )


_counter = iter(range(1, 10**9))


def event(event_type: str, days_ago: float = 10, member_id: str = "", **payload: Any) -> StoredFact:
    return StoredFact(
        event_id=f"e{next(_counter)}",
        type=event_type,
        occurred_at=AS_OF - timedelta(days=days_ago),
        payload=payload,
        member_id=member_id,
    )


def medical(oop: float, inpatient: bool = False, days_ago: float = 10) -> StoredFact:
    return event(
        "medical_expense", days_ago, total_cost_cny=oop * 2, out_of_pocket_cny=oop, inpatient=inpatient
    )


def score(
    record: RegistryRecord,
    *events: StoredFact,
    policy: Policy = POLICY,
    monitored: bool = False,
    trigger: list[StoredFact] | None = None,
) -> Scored:
    state = build_state(record, events, policy.risk, AS_OF)
    triggering = trigger if trigger is not None else list(events)
    case = CaseState(open=True, case_id="C1") if monitored else NO_CASE
    return assess(state, policy, trigger_ids=[e.event_id for e in triggering], case=case)


def points(result: Scored) -> dict[str, float]:
    return {r.rule: r.points for r in result.reasons}


# ---- worked examples ------------------------------------------------------------------------------------


def test_lifted_household_of_four_with_6000_medical_crosses_the_lifted_threshold() -> None:
    result = score(household(30_000, 4, "lifted"), medical(6_000))
    assert result.category == "unstable_lifted"  # 7,500 per capita ≤ 8,500
    assert result.income_pc == 7_500 and result.adjusted_income_pc == 6_000
    assert "medical_trailing" in result.warnings  # 6,000 ≥ 5,000 for lifted households
    expected_income_points = 50 + 30 * (8_500 - 6_000) / 8_500
    assert points(result) == {"income_within_line": round(expected_income_points, 2), "medical_warning": 20}
    assert result.level == "high" and result.opens_case
    assert result.risk_types == ["illness"]
    reason = next(r for r in result.reasons if r.rule == "income_within_line")
    assert "6000" in reason.reason_zh and "8500" in reason.reason_en


def test_general_household_with_a_destroyed_house_and_its_loss_is_sudden_hardship() -> None:
    # income 10,000 per capita is above the line; the disaster loss is rigid spending, so the
    # adjusted income (40,000 − 60,000) / 4 falls below it: that, not the damage rating, makes it sudden.
    result = score(
        household(40_000, 4, "general"),
        event("disaster_loss", disaster_type="earthquake", loss_cny=60_000, housing_damage="destroyed"),
    )
    assert result.income_pc == 10_000 and result.adjusted_income_pc == -5_000
    assert result.category == "sudden_hardship"
    assert points(result) == {
        "income_within_line": 80,
        "housing": 40,
        "disaster_loss_ratio": 20,
        "multiple_risk_types": 10,
        "score_cap": -50,
    }
    assert result.score == 100 and result.level == "critical"
    assert result.warnings == ["housing_unsafe"] and result.opens_case
    assert result.risk_types == ["disaster", "housing"]


def test_a_destroyed_house_with_a_small_loss_stays_above_the_line() -> None:
    result = score(
        household(40_000, 4, "general"),
        event("disaster_loss", disaster_type="flood", loss_cny=5_000, housing_damage="destroyed"),
    )
    assert result.adjusted_income_pc == 8_750 and result.category is None
    assert points(result) == {"income_edge": 25, "housing": 40, "multiple_risk_types": 10}
    assert result.level == "high" and result.opens_case


def test_unsafe_rating_without_loss_is_a_warning_but_no_category() -> None:
    result = score(household(40_000, 4, "general"), event("housing_safety", rating="D"))
    assert result.category is None
    assert result.warnings == ["housing_unsafe"]
    assert points(result) == {"income_edge": 25, "housing": 20}
    assert result.level == "medium" and result.opens_case  # any warning opens a lead


def test_rigid_spending_exactly_to_the_line_is_sudden_hardship_without_a_warning() -> None:
    result = score(household(40_000, 4, "general"), medical(6_000))
    assert result.adjusted_income_pc == 8_500 and result.category == "sudden_hardship"
    assert result.warnings == [] and points(result) == {"income_within_line": 50}
    assert result.level == "medium" and not result.opens_case


# ---- category ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "income", "expected"),
    [
        ("lifted", 34_000, "unstable_lifted"),
        ("general", 34_000, "marginal"),
        ("general", 34_004, None),
        ("lifted", 100_000, None),
    ],
)
def test_category_by_income_and_status(status: str, income: float, expected: str | None) -> None:
    assert score(household(income, 4, status)).category == expected


def test_nothing_happening_above_the_edge_scores_zero() -> None:
    result = score(household(60_000, 4, "general"))
    assert result.score == 0 and result.level == "none" and not result.opens_case and result.reasons == []


def test_income_within_line_is_capped_at_80_points() -> None:
    assert points(score(household(0, 4, "general")))["income_within_line"] == 80


def test_income_change_replaces_the_registry_income() -> None:
    result = score(
        household(60_000, 4, "general"),
        event(
            "income_change",
            previous_annual_income_cny=60_000,
            current_annual_income_cny=20_000,
            reason="business_failure",
        ),
    )
    assert result.income_pc == 5_000 and result.category == "marginal"
    assert "income_drop" in result.warnings and points(result)["income_drop_or_unemployment"] == 15
    assert result.risk_types == ["industry_failure"]


def test_death_reduces_the_member_count() -> None:
    result = score(household(30_000, 3, "general"), event("death", member_id="m0"))
    assert result.income_pc == 15_000


# ---- monitoring line ------------------------------------------------------------------------------------


def test_monitoring_line_longest_prefix_and_year_win() -> None:
    data = POLICY.model_dump(mode="json")
    data["risk"]["monitoring_lines"] = [
        {"region_prefix": "", "line_cny": 8_500},
        {"region_prefix": "61", "line_cny": 9_000},
        {"region_prefix": "61", "year": 2026, "line_cny": 9_200},
        {"region_prefix": "610327", "year": 2025, "line_cny": 9_999},
    ]
    risk = Policy.model_validate(data).risk
    assert risk.monitoring_line("610327101201", 2026) == 9_200
    assert risk.monitoring_line("610327101201", 2025) == 9_999
    assert risk.monitoring_line("610327101201", 2024) == 9_000
    assert risk.monitoring_line("110101001001", 2026) == 8_500


# ---- warnings and their points ---------------------------------------------------------------------------


def test_medical_trailing_threshold_for_general_households_is_20000() -> None:
    assert "medical_trailing" not in score(household(200_000, 4, "general"), medical(19_999)).warnings
    result = score(household(200_000, 4, "general"), medical(12_000), medical(8_000))
    assert "medical_trailing" in result.warnings and points(result)["medical_warning"] == 20


def test_medical_outside_the_trailing_window_is_not_counted() -> None:
    old = medical(6_000, days_ago=400)
    result = score(household(100_000, 4, "lifted"), old, trigger=[])
    assert result.warnings == [] and result.risk_types == []


@pytest.mark.parametrize(
    ("oop", "monitored", "fires"),
    [
        (10_000, False, True),
        (9_999, False, False),
        (6_000, True, True),
        (5_999, True, False),
    ],
)
def test_single_inpatient_stay_thresholds(oop: float, monitored: bool, fires: bool) -> None:
    result = score(household(500_000, 4, "general"), medical(oop, inpatient=True), monitored=monitored)
    assert ("medical_inpatient_stay" in result.warnings) is fires


def test_outpatient_spending_is_not_a_hospital_stay() -> None:
    assert "medical_inpatient_stay" not in score(household(500_000, 4, "general"), medical(15_000)).warnings


def test_a_household_within_the_line_counts_as_monitored_for_stays() -> None:
    assert "medical_inpatient_stay" in score(household(30_000, 4, "general"), medical(6_500, True)).warnings


def test_education_spending_warns_at_10000() -> None:
    fires = score(
        household(500_000, 4, "general"),
        event("education_expense", out_of_pocket_cny=10_000, stage="university"),
    )
    assert fires.warnings == ["education_trailing"] and fires.risk_types == ["education"]
    quiet = score(
        household(500_000, 4, "general"),
        event("education_expense", out_of_pocket_cny=9_000, stage="university"),
    )
    assert quiet.warnings == []


def test_school_dropout_warns_and_scores_40() -> None:
    result = score(household(500_000, 4, "general"), event("school_dropout", grade=8))
    assert result.warnings == ["school_dropout"] and points(result) == {"school_dropout": 40}


@pytest.mark.parametrize(
    ("issue", "days", "fires"),
    [
        ("quality", 1, True),
        ("cut_off", 45, True),
        ("cut_off", 20, False),
        ("distance", 90, False),
    ],
)
def test_drinking_water(issue: str, days: int, fires: bool) -> None:
    result = score(household(500_000, 4, "general"), event("drinking_water", issue=issue, days_affected=days))
    assert ("drinking_water_unsafe" in result.warnings) is fires
    assert points(result).get("drinking_water") == (30 if fires else None)


def test_housing_rating_c_warns_and_a_later_a_rating_clears_it() -> None:
    unsafe = event("housing_safety", days_ago=60, rating="C")
    assert "housing_unsafe" in score(household(500_000, 4, "general"), unsafe).warnings
    repaired = event("housing_safety", days_ago=5, rating="A")
    assert score(household(500_000, 4, "general"), unsafe, repaired).warnings == []


@pytest.mark.parametrize(
    ("facts", "capacities", "fires"),
    [
        ([("death", "m0", {})], ["full", "none"], True),
        ([("death", "m1", {})], ["full", "none"], False),
        ([("disability", "m0", {"level": 1})], ["partial", "full"], True),
        ([("disability", "m0", {"level": 3})], ["full", "full"], False),
        ([("accident", "m0", {"out_of_pocket_cny": 100, "lost_labour": True})], ["full", "full"], True),
        ([("accident", "m0", {"out_of_pocket_cny": 100, "lost_labour": False})], ["full", "full"], False),
    ],
)
def test_lost_labour_of_a_working_member(
    facts: list[tuple[str, str, dict[str, Any]]], capacities: list[str], fires: bool
) -> None:
    events = [event(kind, member_id=member, **payload) for kind, member, payload in facts]
    result = score(household(500_000, 2, "general", capacities), *events)
    assert ("labour_loss" in result.warnings) is fires
    assert ("lost_labour" in points(result)) is fires
    assert ("labour_shortage" in result.risk_types) is fires


def test_income_drop_of_30_percent_warns_and_scores_15() -> None:
    drop = event(
        "income_change",
        previous_annual_income_cny=300_000,
        current_annual_income_cny=200_000,
        reason="wage_cut",
    )
    result = score(household(300_000, 4, "general"), drop)
    assert result.warnings == ["income_drop"] and points(result) == {"income_drop_or_unemployment": 15}
    small = event(
        "income_change",
        previous_annual_income_cny=300_000,
        current_annual_income_cny=250_000,
        reason="wage_cut",
    )
    assert score(household(300_000, 4, "general"), small).warnings == []


def test_unemployment_scores_15_without_a_warning() -> None:
    result = score(household(500_000, 4, "general"), event("unemployment", previous_monthly_wage_cny=4_000))
    assert result.warnings == [] and points(result) == {"income_drop_or_unemployment": 15}


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("self_application", {"reasons": ["illness"], "statement": "please"}),
        ("grid_report", {"risk_types": ["other"], "notes": "seen"}),
    ],
)
def test_self_applications_and_grid_reports_are_always_screened(kind: str, payload: dict[str, Any]) -> None:
    report = event(kind, **payload)
    result = score(household(500_000, 4, "general"), report)
    assert result.warnings == [kind] and result.opens_case and result.level == "none"
    later = score(household(500_000, 4, "general"), report, medical(10), trigger=[])
    assert kind not in later.warnings  # screened once, when it arrived


def test_two_distinct_risk_types_add_10() -> None:
    result = score(
        household(500_000, 4, "general"),
        medical(100),
        event("education_expense", out_of_pocket_cny=100, stage="high_school"),
    )
    assert result.risk_types == ["education", "illness"] and points(result) == {"multiple_risk_types": 10}


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (0, "none"),
        (19.99, "none"),
        (20, "low"),
        (39.9, "low"),
        (40, "medium"),
        (60, "high"),
        (79.99, "high"),
        (80, "critical"),
    ],
)
def test_level_bands(value: float, level: str) -> None:
    assert POLICY.risk.level_for(value) == level


def test_policy_version_and_triggering_events_are_recorded() -> None:
    first, second = medical(100), medical(200)
    result = score(household(500_000, 4, "general"), first, second, trigger=[second])
    assert result.policy_version == POLICY.version and result.event_ids == [second.event_id]


def test_reason_templates_degrade_gracefully() -> None:
    assert render("{value:.0f} of {missing}", {"value": 3.4}) == "3 of {missing}"
    assert render("{value:.0f}", {}) == "{value:.0f}"


def test_months_before_clamps_the_day() -> None:
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 6, 30, tzinfo=UTC), 12) == datetime(2025, 6, 30, tzinfo=UTC)


# ---- properties ------------------------------------------------------------------------------------------

EVENTS = st.lists(
    st.sampled_from(
        [
            ("medical_expense", {"total_cost_cny": 9_000, "out_of_pocket_cny": 7_000, "inpatient": True}),
            ("disaster_loss", {"disaster_type": "flood", "loss_cny": 30_000, "housing_damage": "destroyed"}),
            ("school_dropout", {"grade": 7}),
            ("drinking_water", {"issue": "quality", "days_affected": 3}),
            ("accident", {"out_of_pocket_cny": 3_000, "lost_labour": True}),
            ("unemployment", {"previous_monthly_wage_cny": 3_000}),
            ("housing_safety", {"rating": "D"}),
        ]
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(
    income=st.floats(0, 200_000),
    members=st.integers(1, 8),
    lifted=st.booleans(),
    kinds=EVENTS,
    oop=st.floats(0, 60_000),
    extra=st.floats(0, 60_000),
)
def test_score_is_capped_explained_and_monotonic_in_medical_spending(
    income: float,
    members: int,
    lifted: bool,
    kinds: list[tuple[str, dict[str, Any]]],
    oop: float,
    extra: float,
) -> None:
    record = household(income, members, "lifted" if lifted else "general")
    others = [event(kind, **payload) for kind, payload in kinds]
    lower = score(record, *others, medical(oop))
    higher = score(record, *others, medical(oop + extra))
    for result in (lower, higher):
        assert 0 <= result.score <= 100
        assert math.isclose(sum(r.points for r in result.reasons), result.score, abs_tol=0.05)
    assert higher.score >= lower.score

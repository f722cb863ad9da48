"""Properties of the scoring engine beyond tests/unit/risk (fixed amounts there): arbitrary amounts for
every event, several medical bills in and out of hospital, previously monitored households, levels."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from safetynet_risk.state import StoredFact
from tests.unit.risk.test_engine import POLICY, event, household, medical, score

CNY = st.floats(0, 80_000, allow_nan=False)
OTHER_EVENTS = st.lists(
    st.one_of(
        st.builds(
            lambda loss, damage: event("disaster_loss", disaster_type="flood", loss_cny=loss, housing_damage=damage),
            CNY,
            st.sampled_from(["none", "partial", "destroyed"]),
        ),
        st.builds(lambda oop, lost: event("accident", out_of_pocket_cny=oop, lost_labour=lost), CNY, st.booleans()),
        st.builds(lambda oop: event("education_expense", out_of_pocket_cny=oop, stage="university"), CNY),
        st.builds(
            lambda before, after: event(
                "income_change", previous_annual_income_cny=before, current_annual_income_cny=after, reason="other"
            ),
            CNY,
            CNY,
        ),
        st.builds(lambda rating: event("housing_safety", rating=rating), st.sampled_from("ABCD")),
    ),
    max_size=5,
)
BILLS = st.lists(st.tuples(CNY, st.booleans(), st.floats(0, 360)), max_size=4)


def bills(spec: list[tuple[float, bool, float]]) -> list[StoredFact]:
    return [medical(oop, inpatient=stay, days_ago=days) for oop, stay, days in spec]


@settings(max_examples=300, deadline=None)
@given(
    income=st.floats(0, 300_000, allow_nan=False),
    members=st.integers(1, 8),
    lifted=st.booleans(),
    monitored=st.booleans(),
    others=OTHER_EVENTS,
    earlier=BILLS,
    more=BILLS,
)
def test_more_out_of_pocket_medical_spending_never_lowers_the_score(
    income: float,
    members: int,
    lifted: bool,
    monitored: bool,
    others: list[StoredFact],
    earlier: list[tuple[float, bool, float]],
    more: list[tuple[float, bool, float]],
) -> None:
    record = household(income, members, "lifted" if lifted else "general")
    before = score(record, *others, *bills(earlier), monitored=monitored)
    after = score(record, *others, *bills(earlier), *bills(more), monitored=monitored)
    raised = [(oop * 2, stay, days) for oop, stay, days in earlier]
    doubled = score(record, *others, *bills(raised), monitored=monitored)
    for result in (before, after, doubled):
        assert 0 <= result.score <= 100
        assert all(r.points >= 0 for r in result.reasons if r.rule != "score_cap")  # the cap is a negative reason
        assert math.isclose(sum(r.points for r in result.reasons), result.score, abs_tol=0.05)
        assert result.level == POLICY.risk.level_for(result.score)
    assert after.score >= before.score
    assert doubled.score >= before.score

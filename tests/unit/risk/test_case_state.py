"""Risk knows the case, without Kafka or Postgres: case events fold into a household's case state in any
order (a late or replayed opening never reopens what a later closure ended), the engine treats a household
as monitored only while its case is open, and evidence older than a closure opens no case."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from safetynet_core.contracts import PoisonRecord
from safetynet_risk.backtest import World
from safetynet_risk.casestate import NO_CASE, CaseChange, CaseState, apply, case_event, decode_case_event
from safetynet_risk.engine import assess
from safetynet_risk.state import build_state
from tests.unit.risk.test_engine import AS_OF, POLICY, household, medical

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def opened(case_id: str, days: float, key: str | None = None, reopened: bool = False) -> CaseChange:
    at = T0 + timedelta(days=days)
    return CaseChange(key or f"{case_id}:o:{days}", "H1", case_id, False, at, reopened=reopened)


def closed(case_id: str, days: float, reason: str = "risk_eliminated") -> CaseChange:
    return CaseChange(f"{case_id}:c:{days}", "H1", case_id, True, T0 + timedelta(days=days), reason)


def fold(changes: list[CaseChange]) -> CaseState:
    state = NO_CASE
    for change in changes:
        state = apply(state, change)
    return state


HISTORY = [
    opened("C1", 0),
    closed("C1", 30),
    opened("C1", 40, reopened=True),
    closed("C1", 70, "natural"),
    opened("C2", 90),
]


@pytest.mark.parametrize("upto", range(1, len(HISTORY) + 1))
def test_any_order_and_any_replay_of_the_same_case_events_gives_the_same_state(upto: int) -> None:
    changes = HISTORY[:upto]
    expected = fold(changes)
    for order in itertools.permutations(changes):
        assert fold([*order, *order[:2]]) == expected  # the first two replayed at the end


def test_the_state_follows_openings_closures_and_reopenings() -> None:
    state = fold(HISTORY[:2])
    assert (state.open, state.case_id, state.closed_at, state.close_reason) == (
        False,
        "C1",
        T0 + timedelta(days=30),
        "risk_eliminated",
    )
    reopened = fold(HISTORY[:3])
    assert reopened.open and reopened.closed_at == T0 + timedelta(days=30)  # the last closure is remembered
    last = fold(HISTORY)
    assert (last.open, last.case_id, last.closed_at, last.close_reason) == (
        True,
        "C2",
        T0 + timedelta(days=70),
        "natural",
    )


def test_a_late_opening_does_not_reopen_what_a_later_closure_ended() -> None:
    state = fold([opened("C1", 0), closed("C1", 30)])
    assert not apply(state, opened("C1", 0, key="late-delivery")).open
    assert not apply(state, opened("C1", 29)).open
    assert not apply(state, opened("C1", 30)).open  # the same moment: the closure wins
    assert apply(state, opened("C1", 31)).open


def test_decoding_case_events() -> None:
    value = case_event("case.closed", "C1", "H1", T0, event_key="k1", close_reason="not_eligible")
    assert decode_case_event(value) == CaseChange("k1", "H1", "C1", True, T0, "not_eligible")
    reopening = decode_case_event(case_event("case.opened", "C1", "H1", T0, details={"reopened": True}))
    assert reopening is not None and reopening.reopened and not reopening.closes
    assert decode_case_event(case_event("task.assigned", "C1", "H1", T0)) is None  # not followed
    assert decode_case_event(case_event("case.step_changed", "C1", "H1", T0)) is None
    with pytest.raises(PoisonRecord):
        decode_case_event(case_event("case.opened", "", "H1", T0))
    with pytest.raises(PoisonRecord):
        decode_case_event(b"\xff\xff not protobuf")


def _stay(case: CaseState, evidence_at: datetime | None = None) -> tuple[list[str], bool, list[str]]:
    record = household(200_000, 4, "general")  # far above the line: only an open case makes it monitored
    stay = medical(7000, inpatient=True)
    state = build_state(record, [stay], POLICY.risk, AS_OF)
    scored = assess(state, POLICY, trigger_ids=[stay.event_id], case=case, evidence_at=evidence_at or stay.occurred_at)
    return scored.warnings, scored.opens_case, [r.rule for r in scored.reasons]


def test_the_monitored_stay_threshold_applies_only_while_a_case_is_open() -> None:
    assert _stay(CaseState(open=True, case_id="C1"))[:2] == (["medical_inpatient_stay"], True)
    closed_case = CaseState(open=False, case_id="C1", closed_at=AS_OF - timedelta(days=30))
    assert _stay(closed_case)[:2] == ([], False)
    assert _stay(NO_CASE)[:2] == ([], False)


def test_evidence_older_than_the_closure_opens_no_case_and_says_why() -> None:
    record = household(200_000, 4, "general")
    closure = AS_OF - timedelta(days=5)
    case = CaseState(open=False, case_id="C1", closed_at=closure, close_reason="risk_eliminated", closed_case_id="C1")
    for days_ago, opens in ((9, False), (5, False), (1, True)):
        stay = medical(12_000, inpatient=True, days_ago=days_ago)
        state = build_state(record, [stay], POLICY.risk, AS_OF)
        scored = assess(state, POLICY, trigger_ids=[stay.event_id], case=case, evidence_at=stay.occurred_at)
        assert scored.warnings == ["medical_inpatient_stay"] and scored.opens_case is opens, days_ago
        stale = [r for r in scored.reasons if r.rule == "closed_case_stale_evidence"]
        assert bool(stale) is not opens
        if stale:
            assert stale[0].points == 0 and closure.date().isoformat() in stale[0].reason_en
            assert "risk_eliminated" in stale[0].reason_zh and "结案" in stale[0].reason_zh


def test_a_backtest_world_opens_on_a_flag_closes_on_a_real_closure_and_reopens_on_a_real_reopening() -> None:
    world = World()
    assert not world.flagged(False, T0, "A1")
    world.learn(closed("C9", 1))  # a closure while this world has no case: nothing to close
    assert world.case == NO_CASE
    assert world.flagged(True, T0 + timedelta(days=2), "A2")
    assert not world.flagged(True, T0 + timedelta(days=3), "A3")  # joins the open case
    world.learn(closed("C1", 10, "not_eligible"))
    assert not world.case.open and world.case.closed_at == T0 + timedelta(days=10)
    world.learn(opened("C1", 11))  # an opening an assessment caused: the world's own flags decide those
    assert not world.case.open
    world.learn(opened("C1", 12, reopened=True))
    assert world.case.open

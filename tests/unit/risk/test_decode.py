"""Decoding household events: the payload travels as JSON; records written before that carry a Struct. Encoding
assessments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from safetynet.v1 import household_events_pb2 as hpb
from safetynet.v1 import risk_assessments_pb2 as rpb
from safetynet_core.contracts import SCHEMA_VERSION, PoisonRecord, to_struct, to_timestamp
from safetynet_risk.messages import NotScored, assessment_message, decode, department_event

OCCURRED = datetime(2026, 3, 1, 8, tzinfo=UTC)
PAYLOAD = {"issue": "cut_off", "days_affected": 12}


def _older_record(payload: dict[str, object]) -> bytes:
    return hpb.HouseholdEvent(
        schema_version=SCHEMA_VERSION,
        event_id="E1",
        household_id="H1",
        occurred_at=to_timestamp(OCCURRED),
        department_event=hpb.DepartmentEvent(type="drinking_water", reference="E1", payload=to_struct(payload)),
    ).SerializeToString()


def test_json_and_struct_payloads_decode_to_the_same_fact() -> None:
    current = decode(department_event("E1", "H1", "drinking_water", PAYLOAD, OCCURRED))
    older = decode(_older_record(PAYLOAD))
    assert current.fact is not None and older.fact is not None
    assert current.fact.payload == older.fact.payload == {"issue": "cut_off", "days_affected": 12}
    assert current.fact.occurred_at == older.fact.occurred_at == OCCURRED


@pytest.mark.parametrize("payload_json", [b"{not json", b'{"issue": "cut_off", "days_affected": -3}', b"[]"])
def test_a_bad_payload_is_poison(payload_json: bytes) -> None:
    message = hpb.HouseholdEvent.FromString(department_event("E1", "H1", "drinking_water", PAYLOAD, OCCURRED))
    message.department_event.payload_json = payload_json
    with pytest.raises(PoisonRecord) as exc:
        decode(message.SerializeToString())
    assert exc.value.reason == "invalid_payload"


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("insurance_status", {"scheme": "basic_medical", "insured": False, "year": 2027}),
        ("employment_status", {"employed": True}),
    ],
)
def test_coverage_facts_are_not_scored(event_type: str, payload: dict[str, object]) -> None:
    """A member's insurance and employment feed the coverage checks, not the score."""
    with pytest.raises(NotScored):
        decode(department_event("E3", "H1", event_type, payload, OCCURRED))


def test_a_measure_update_is_not_scored_and_not_poison() -> None:
    """Acknowledgements report on a case: risk skips them (no fact, no dead letter)."""
    update = {"case_id": "C1", "measure_type": "employment", "status": "started", "note": ""}
    with pytest.raises(NotScored):
        decode(department_event("E2", "H1", "measure_update", update, OCCURRED))


def _assessment_row(reasons: list[dict[str, object]]) -> dict[str, object]:
    return {
        "assessment_id": "A1",
        "household_id": "H1",
        "region_code": "610327101201",
        "category": None,
        "level": "high",
        "score": 65.5,
        "risk_types": ["medical", "housing"],
        "warnings": ["housing_unsafe"],
        "reasons": reasons,
        "opens_case": True,
        "policy_version": "2026.1",
        "event_ids": ["E1", "E2"],
        "assessed_at": OCCURRED,
        "income_pc": 4200.0,
        "adjusted_income_pc": -0.0,
        "poverty_status": "lifted",
    }


@pytest.mark.parametrize("reason_length", [0, 1, 200, 20_000])  # lengths needing one, two and three varint bytes
def test_an_assessment_encodes_as_the_whole_message_would(reason_length: int) -> None:
    reasons = [
        {"rule": "housing", "points": 20.0, "reason_zh": "住房 C", "reason_en": "x" * reason_length},
        {"rule": "score_cap", "points": -0.0, "reason_zh": "", "reason_en": "capped"},
    ][: 2 if reason_length else 0]
    row = _assessment_row(reasons)
    fields = {**row, "category": "", "assessed_at": to_timestamp(OCCURRED)}
    fields["reasons"] = [rpb.ScoreReason(**r) for r in reasons]  # type: ignore[arg-type]
    whole = rpb.RiskAssessment(schema_version=SCHEMA_VERSION, **fields).SerializeToString()  # type: ignore[arg-type]
    assert assessment_message(row) == whole

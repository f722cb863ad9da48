"""Decoding household events: the payload travels as JSON; records written before that carry a Struct."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from safetynet.v1 import household_events_pb2 as hpb
from safetynet_core.contracts import SCHEMA_VERSION, PoisonRecord, to_struct, to_timestamp
from safetynet_risk.messages import NotScored, decode, department_event

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

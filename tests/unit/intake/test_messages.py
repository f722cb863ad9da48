"""The outbox value of a department event, built from a per-client prefix on the hot path, carries every field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from safetynet_core.contracts import SCHEMA_VERSION, HouseholdEvent, department_payload, to_timestamp
from safetynet_intake.clients import ApiClient
from safetynet_intake.messages import department_event_message
from safetynet_intake.validation import validate_event

CLIENT = ApiClient("c1", "medical_insurance", "his", frozenset({"medical_expense"}), False)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=8))),
        datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(2024, 2, 29, 12, 0, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ],
)
def test_to_timestamp_matches_protobuf_conversion(moment: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(moment.astimezone(UTC))
    assert to_timestamp(moment) == expected


def test_department_event_message_round_trips() -> None:
    document = {
        "event_id": "e-1",
        "type": "medical_expense",
        "household_id": "H000001",
        "member_id": "M1",
        "occurred_at": "2026-01-01T08:00:00+08:00",
        "reference": "HIS-1",
        "payload": {"total_cost_cny": 30000, "out_of_pocket_cny": 12000, "inpatient": True},
    }
    now = datetime(2026, 1, 2, tzinfo=UTC)
    event = validate_event(document, [], now, timedelta(minutes=5))

    encoded = department_event_message(CLIENT, event, to_timestamp(now))
    message = HouseholdEvent.FromString(encoded)

    assert message.schema_version == SCHEMA_VERSION
    assert (message.event_id, message.household_id) == ("e-1", "H000001")
    assert (message.department, message.client_id) == ("medical_insurance", "c1")
    assert message.occurred_at.ToDatetime(tzinfo=UTC) == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert message.received_at.ToDatetime(tzinfo=UTC) == now
    assert message.WhichOneof("body") == "department_event"
    detail = message.department_event
    assert (detail.type, detail.member_id, detail.reference) == ("medical_expense", "M1", "HIS-1")
    assert department_payload(detail) == {"total_cost_cny": 30000, "out_of_pocket_cny": 12000, "inpatient": True}

    # The prefixed encoding parses exactly as the message built in one piece.
    whole = HouseholdEvent()
    whole.CopyFrom(message)
    assert HouseholdEvent.FromString(whole.SerializeToString()) == message
    assert len(whole.SerializeToString()) == len(encoded)


def test_records_written_before_payload_json_still_read_their_struct_payload() -> None:
    older = HouseholdEvent()
    older.department_event.payload.update({"out_of_pocket_cny": 6000, "inpatient": True})
    assert department_payload(older.department_event) == {"out_of_pocket_cny": 6000, "inpatient": True}

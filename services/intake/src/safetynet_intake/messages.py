"""Protobuf HouseholdEvent values for the outbox: department events (payload as JSON) and registry
records (ID numbers masked to their last four characters: the full number never leaves intake)."""

from __future__ import annotations

import functools
from datetime import datetime

import orjson
from google.protobuf.timestamp_pb2 import Timestamp

from safetynet.v1 import household_events_pb2 as pb
from safetynet_core.contracts import SCHEMA_VERSION, HouseholdEvent, timestamp_parts, to_timestamp
from safetynet_core.masking import mask_id_number
from safetynet_intake.clients import ApiClient
from safetynet_intake.validation import HouseholdRecordIn, ValidEvent

POVERTY_STATUS = {"lifted": pb.POVERTY_STATUS_LIFTED, "general": pb.POVERTY_STATUS_GENERAL}
LABOUR_CAPACITY = {
    "full": pb.LABOUR_CAPACITY_FULL,
    "partial": pb.LABOUR_CAPACITY_PARTIAL,
    "none": pb.LABOUR_CAPACITY_NONE,
}


@functools.lru_cache(maxsize=4096)
def _client_fields(department: str, client_id: str) -> bytes:
    return HouseholdEvent(
        schema_version=SCHEMA_VERSION, department=department, client_id=client_id
    ).SerializeToString()


def department_event_message(client: ApiClient, event: ValidEvent, received_at: Timestamp) -> bytes:
    """The outbox value of a department event; `received_at` is shared by a whole request. The fields
    every event of a client shares are serialised once per client and prefixed (protobuf parses
    concatenated messages as one merged message); the nested messages are filled in place."""
    own = HouseholdEvent(event_id=event.event_id, household_id=event.household_id)
    seconds, nanos = timestamp_parts(event.occurred_at)
    own.occurred_at.seconds = seconds
    own.occurred_at.nanos = nanos
    own.received_at.CopyFrom(received_at)
    detail = own.department_event
    detail.type = event.type.value
    detail.member_id = event.member_id or ""
    detail.reference = event.reference or ""
    detail.payload_json = orjson.dumps(event.payload)
    return _client_fields(client.department, client.client_id) + own.SerializeToString()


def masked_members(record: HouseholdRecordIn) -> list[dict[str, object]]:
    """Members as intake stores them: everything but the full ID number."""
    return [
        {**m.model_dump(mode="json", exclude={"id_number"}), "id_number_masked": mask_id_number(m.id_number)}
        for m in record.members
    ]


def registry_record_message(
    client: ApiClient, record: HouseholdRecordIn, event_id: str, received_at: datetime
) -> bytes:
    return HouseholdEvent(
        schema_version=SCHEMA_VERSION,
        event_id=event_id,
        household_id=record.household_id,
        department=client.department,
        client_id=client.client_id,
        occurred_at=to_timestamp(received_at),
        received_at=to_timestamp(received_at),
        registry_record=pb.HouseholdRecord(
            household_id=record.household_id,
            region_code=record.region_code,
            poverty_status=POVERTY_STATUS[record.poverty_status],
            annual_net_income_cny=record.annual_net_income_cny,
            head_member_id=record.head_member_id,
            grid_id=record.grid_id or "",
            members=[
                pb.Member(
                    member_id=m.member_id,
                    name=m.name,
                    id_number_masked=mask_id_number(m.id_number),
                    birth_date=m.birth_date.isoformat(),
                    labour_capacity=LABOUR_CAPACITY[m.labour_capacity],
                    in_school=m.in_school,
                )
                for m in record.members
            ],
        ),
    ).SerializeToString()

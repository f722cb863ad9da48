"""Protobuf in and out: decode household events into facts (or say why a record is poison), encode
assessments, and build household-event messages for tests, the bench and the demo."""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import orjson
from pydantic import ValidationError

from safetynet.v1 import household_events_pb2 as hpb
from safetynet.v1 import risk_assessments_pb2 as rpb
from safetynet_core.contracts import (
    EVENT_TYPES,
    LABOUR_CAPACITY_NAMES,
    PAYLOAD_MODELS,
    SCHEMA_VERSION,
    UNSCORED_TYPES,
    HouseholdEvent,
    PoisonRecord,
    department_payload,
    from_timestamp,
    now_utc,
    parse_record,
    to_timestamp,
)
from safetynet_core.payload_codec import decode_payload
from safetynet_risk.memo import remembered
from safetynet_risk.state import Member, RegistryRecord, StoredFact

REGION_CODE = re.compile(r"^\d{12}$")
POVERTY_STATUS = {hpb.POVERTY_STATUS_LIFTED: "lifted", hpb.POVERTY_STATUS_GENERAL: "general"}


@dataclass(frozen=True, slots=True)
class Incoming:
    """A decoded household event: either a department fact or a registry record."""

    household_id: str
    event_id: str
    fact: StoredFact | None = None
    registry: RegistryRecord | None = None

    @property
    def occurred_at(self) -> datetime:
        if self.fact is not None:
            return self.fact.occurred_at
        assert self.registry is not None  # noqa: S101 (invariant: a fact or a registry record)
        return self.registry.recorded_at


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _moment(timestamp: Any) -> datetime:
    """`from_timestamp` (Timestamp.ToDatetime in UTC) without its generic checks for the usual case."""
    seconds, nanos = timestamp.seconds, timestamp.nanos
    if -62_135_596_800 <= seconds <= 253_402_300_799 and 0 <= nanos < 1_000_000_000:
        return _EPOCH + timedelta(0, seconds, nanos // 1000)  # (days, seconds, microseconds): no keywords to parse
    return from_timestamp(timestamp)  # out of range: raises as it always did


def _registry(message: Any, household_id: str, recorded_at: datetime) -> RegistryRecord:
    record = message.registry_record
    if not REGION_CODE.match(record.region_code):
        raise PoisonRecord("invalid_record", "region_code must be 12 digits")
    if record.poverty_status not in POVERTY_STATUS:
        raise PoisonRecord("invalid_record", "poverty_status must be lifted or general")
    if not record.members or record.annual_net_income_cny < 0:
        raise PoisonRecord("invalid_record", "a record needs members and a non-negative income")
    return RegistryRecord(
        household_id=household_id,
        region_code=record.region_code,
        poverty_status=POVERTY_STATUS[record.poverty_status],
        annual_net_income_cny=record.annual_net_income_cny,
        members=tuple(
            Member(m.member_id, LABOUR_CAPACITY_NAMES.get(m.labour_capacity, "full"), m.in_school)
            for m in record.members
        ),
        recorded_at=recorded_at,
    )


class NotScored(Exception):
    """A valid record risk has no use for: acknowledgements (`measure_update`) report on a case, and a
    member's insurance and employment status feed the coverage checks, not the score. Skipped, neither
    stored nor dead-lettered."""


def decode(value: bytes | None) -> Incoming:
    """Parse and validate one household-events record; raises PoisonRecord with a reason label, or
    NotScored for record types risk skips. Each protobuf field is read once (every read of a field builds a
    new Python object)."""
    message = parse_record(HouseholdEvent, value)
    if message.schema_version != SCHEMA_VERSION:
        raise PoisonRecord("schema_version", f"unknown schema_version {message.schema_version}")
    event_id, household_id = message.event_id, message.household_id
    if not event_id or not household_id:
        raise PoisonRecord("undecodable", "event_id and household_id are required")
    occurred_at = _moment(message.occurred_at) if message.HasField("occurred_at") else now_utc()
    body = message.WhichOneof("body")
    if body == "registry_record":
        return Incoming(household_id, event_id, registry=_registry(message, household_id, occurred_at))
    if body != "department_event":
        raise PoisonRecord("undecodable", "the message has no body")
    event = message.department_event
    type_name = event.type
    event_type = EVENT_TYPES.get(type_name)
    if event_type is None:
        raise PoisonRecord("unknown_type", f"unknown event type {type_name[:60]!r}")
    if event_type in UNSCORED_TYPES:
        raise NotScored(type_name)
    payload_json = event.payload_json
    try:
        if payload_json:
            payload = decode_payload(event_type, payload_json)
        else:  # older records carry a Struct
            payload = PAYLOAD_MODELS[event_type].model_validate(department_payload(event)).model_dump(mode="json")
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise PoisonRecord("invalid_payload", f"{type_name} payload: {exc}") from exc
    except ValidationError as exc:
        raise PoisonRecord("invalid_payload", f"{type_name} payload: {exc.errors(include_input=False)}") from exc
    except ValueError as exc:
        raise PoisonRecord("invalid_payload", f"{type_name} payload: {exc}") from exc
    fact = StoredFact(
        event_id=event_id, type=type_name, occurred_at=occurred_at, payload=payload, member_id=event.member_id
    )
    return Incoming(household_id, event_id, fact=fact)


# ---- builders (tests, bench, demo) ---------------------------------------------------------------------


def department_event(
    event_id: str,
    household_id: str,
    event_type: str,
    payload: dict[str, Any],
    occurred_at: datetime | None = None,
    member_id: str = "",
    department: str = "test",
) -> bytes:
    """A HouseholdEvent carrying a department event, as intake publishes it."""
    moment = occurred_at or now_utc()
    return HouseholdEvent(
        schema_version=SCHEMA_VERSION,
        event_id=event_id,
        household_id=household_id,
        department=department,
        occurred_at=to_timestamp(moment),
        received_at=to_timestamp(moment),
        department_event=hpb.DepartmentEvent(
            type=event_type, member_id=member_id, reference=event_id, payload_json=orjson.dumps(payload)
        ),
    ).SerializeToString()


def registry_record(
    event_id: str,
    household_id: str,
    region_code: str,
    poverty_status: str,
    annual_net_income_cny: float,
    members: int | list[tuple[str, str]],
    recorded_at: datetime | None = None,
) -> bytes:
    """A HouseholdEvent carrying a registry record; `members` is a count (all full labour) or
    (member_id, labour_capacity) pairs."""
    moment = recorded_at or now_utc()
    pairs = (
        [(f"{household_id}-m{i}", "full") for i in range(members)] if isinstance(members, int) else members
    )
    capacity = {v: k for k, v in LABOUR_CAPACITY_NAMES.items()}
    status = {v: k for k, v in POVERTY_STATUS.items()}
    return HouseholdEvent(
        schema_version=SCHEMA_VERSION,
        event_id=event_id,
        household_id=household_id,
        department="rural_revitalization",
        occurred_at=to_timestamp(moment),
        received_at=to_timestamp(moment),
        registry_record=hpb.HouseholdRecord(
            household_id=household_id,
            region_code=region_code,
            poverty_status=status[poverty_status],
            annual_net_income_cny=annual_net_income_cny,
            head_member_id=pairs[0][0],
            members=[hpb.Member(member_id=mid, labour_capacity=capacity[cap]) for mid, cap in pairs],
        ),
    ).SerializeToString()


_SCORE_REASONS: dict[Hashable, bytes] = {}
_REASONS_FIELD_TAG = bytes([rpb.RiskAssessment.REASONS_FIELD_NUMBER << 3 | 2])  # length-delimited


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _score_reason(reason: dict[str, Any]) -> bytes:
    """A reason as an encoded `reasons` field of a RiskAssessment (tag, length, ScoreReason), kept for reuse
    (most reasons repeat: same rule, same figures)."""
    points = reason["points"]
    key = (reason["rule"], points or str(points), reason["reason_zh"], reason["reason_en"])  # 0.0 ≠ -0.0 here

    def encode() -> bytes:
        body = rpb.ScoreReason(
            rule=reason["rule"], points=points, reason_zh=reason["reason_zh"], reason_en=reason["reason_en"]
        ).SerializeToString()
        return _REASONS_FIELD_TAG + _varint(len(body)) + body

    return remembered(_SCORE_REASONS, key, encode, 10_000)


_timestamp = functools.lru_cache(maxsize=1)(to_timestamp)  # a batch's assessments share one moment


def assessment_message(row: dict[str, Any]) -> bytes:
    """An assessments-table row as a RiskAssessment protobuf value. Encoded in three parts, fields before
    `reasons`, the reasons (encoded once for every assessment giving the same one) and fields after it: the
    same bytes as serializing the whole message, since fields are written in field-number order."""
    before = rpb.RiskAssessment(
        schema_version=SCHEMA_VERSION,
        assessment_id=row["assessment_id"],
        household_id=row["household_id"],
        region_code=row["region_code"],
        category=row["category"] or "",
        level=row["level"],
        score=row["score"],
        risk_types=row["risk_types"],
        warnings=row["warnings"],
    ).SerializeToString()
    after = rpb.RiskAssessment(
        opens_case=row["opens_case"],
        policy_version=row["policy_version"],
        event_ids=row["event_ids"],
        assessed_at=_timestamp(row["assessed_at"]),
        income_pc=row["income_pc"],
        adjusted_income_pc=row["adjusted_income_pc"],
        poverty_status=row["poverty_status"],
    ).SerializeToString()
    return b"".join([before, *[_score_reason(r) for r in row["reasons"]], after])

"""Event contracts shared by intake (validates), risk (interprets) and the others: event types, their
typed payloads, the departments allowed to send each by default, and protobuf encode/decode helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

import orjson
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from safetynet.v1 import case_events_pb2, household_events_pb2, risk_assessments_pb2

SCHEMA_VERSION = 1
MessageT = TypeVar("MessageT", bound=Message)
# The levels an assessment can carry, lowest first (CONTRACT.md, risk read API).
ASSESSMENT_LEVELS = ("none", "low", "medium", "high", "critical")
# Every case-events record is named `case.*`, `task.*` or `notice.*`; anything else is of an unknown type.
CASE_EVENT_PREFIXES = ("case.", "task.", "notice.")

HouseholdEvent = household_events_pb2.HouseholdEvent
# Registry enums on the household-events topic by name.
LABOUR_CAPACITY_NAMES = {
    household_events_pb2.LABOUR_CAPACITY_FULL: "full",
    household_events_pb2.LABOUR_CAPACITY_PARTIAL: "partial",
    household_events_pb2.LABOUR_CAPACITY_NONE: "none",
}
RiskAssessmentMessage = risk_assessments_pb2.RiskAssessment
CaseEventMessage = case_events_pb2.CaseEvent


class EventType(StrEnum):
    MEDICAL_EXPENSE = "medical_expense"
    DISASTER_LOSS = "disaster_loss"
    INCOME_CHANGE = "income_change"
    ACCIDENT = "accident"
    UNEMPLOYMENT = "unemployment"
    DISABILITY = "disability"
    DEATH = "death"
    EDUCATION_EXPENSE = "education_expense"
    SCHOOL_DROPOUT = "school_dropout"
    HOUSING_SAFETY = "housing_safety"
    DRINKING_WATER = "drinking_water"
    SELF_APPLICATION = "self_application"
    GRID_REPORT = "grid_report"
    MEASURE_UPDATE = "measure_update"
    INSURANCE_STATUS = "insurance_status"
    EMPLOYMENT_STATUS = "employment_status"


class RiskType(StrEnum):
    ILLNESS = "illness"
    DISABILITY = "disability"
    EDUCATION = "education"
    DISASTER = "disaster"
    ACCIDENT = "accident"
    INDUSTRY_FAILURE = "industry_failure"
    UNSTABLE_EMPLOYMENT = "unstable_employment"
    LABOUR_SHORTAGE = "labour_shortage"
    HOUSING = "housing"
    DRINKING_WATER = "drinking_water"
    OTHER = "other"


Money = Annotated[float, Field(ge=0, le=1e9)]
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _example(example: dict[str, Any]) -> ConfigDict:
    """A payload model's documented example (OpenAPI, the batch templates, the integration guide)."""
    return ConfigDict(json_schema_extra={"examples": [example]})


class MedicalExpense(_Payload):
    model_config = _example(
        {"total_cost_cny": 32000, "out_of_pocket_cny": 12800, "inpatient": True, "diagnosis_category": "cardiovascular"}
    )

    total_cost_cny: Money
    out_of_pocket_cny: Money
    inpatient: bool
    diagnosis_category: str | None = Field(None, max_length=100)


class DisasterLoss(_Payload):
    model_config = _example({"disaster_type": "flood", "loss_cny": 45000, "housing_damage": "partial"})

    disaster_type: Literal["flood", "earthquake", "drought", "landslide", "typhoon", "fire", "hail", "other"]
    loss_cny: Money
    housing_damage: Literal["none", "partial", "destroyed"]


class IncomeChange(_Payload):
    model_config = _example(
        {"previous_annual_income_cny": 36000, "current_annual_income_cny": 18000, "reason": "unemployment"}
    )

    previous_annual_income_cny: Money
    current_annual_income_cny: Money
    reason: Literal["unemployment", "business_failure", "crop_failure", "wage_cut", "recovery", "other"]


class Accident(_Payload):
    model_config = _example({"out_of_pocket_cny": 8000, "lost_labour": True})

    out_of_pocket_cny: Money
    lost_labour: bool


class Unemployment(_Payload):
    model_config = _example({"previous_monthly_wage_cny": 3200})

    previous_monthly_wage_cny: Money


class Disability(_Payload):
    model_config = _example({"level": 2})

    level: Literal[1, 2, 3, 4]


class Death(_Payload):
    """No fields: the envelope's member_id names who died."""

    model_config = _example({})


class EducationExpense(_Payload):
    model_config = _example({"out_of_pocket_cny": 12000, "stage": "university"})

    out_of_pocket_cny: Money
    stage: Literal["preschool", "high_school", "vocational", "university"]


class SchoolDropout(_Payload):
    model_config = _example({"grade": 8})

    grade: int | str


class HousingSafety(_Payload):
    model_config = _example({"rating": "C"})

    rating: Literal["A", "B", "C", "D"]


class DrinkingWater(_Payload):
    model_config = _example({"issue": "cut_off", "days_affected": 40})

    issue: Literal["cut_off", "quality", "distance"]
    days_affected: int = Field(ge=0, le=3650)


class SelfApplication(_Payload):
    model_config = _example(
        {"reasons": ["illness"], "declared_annual_income_cny": 9000, "statement": "父亲住院，家庭收入下降"}
    )

    reasons: list[RiskType] = Field(min_length=1)
    declared_annual_income_cny: Money | None = None
    statement: str = Field(max_length=4000)


class GridReport(_Payload):
    model_config = _example({"risk_types": ["housing", "illness"], "notes": "房屋漏雨，户主长期服药"})

    risk_types: list[RiskType] = Field(min_length=1)
    notes: str = Field("", max_length=4000)


class MeasureUpdate(_Payload):
    """A department's acknowledgement of a measure it carries out on a case (the answer to an exchange
    feed record): the measure task of that type on that case moves to started, done or refused."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"case_id": "C5f3a9e0c1d2b4a6e8f0a1b2", "measure_type": "medical_assistance", "status": "done"}
            ],
            # what the note's validator says, for schema readers: a refusal gives its reason
            "if": {"properties": {"status": {"const": "refused"}}},
            "then": {"required": ["note"], "properties": {"note": {"pattern": r"\S"}}},
        }
    )

    case_id: str = Field(min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN)
    measure_type: str = Field(
        pattern=r"^[a-z][a-z_]{0,49}$", description="the plan's measure type, e.g. medical_assistance, employment"
    )
    status: Literal["started", "done", "refused"]
    note: str = Field("", max_length=2000, validate_default=True, description="required when refused: the reason")

    @field_validator("note")
    @classmethod
    def _refusal_has_reason(cls, note: str, info: ValidationInfo) -> str:
        if info.data.get("status") == "refused" and not note.strip():
            raise ValueError("a refused measure needs its reason in note")
        return note


# 城乡居民基本医疗保险 and 防返贫保险
InsuranceScheme = Literal["basic_medical", "anti_poverty_insurance"]


class InsuranceStatus(_Payload):
    """Whether the envelope's member is insured under a scheme for a coverage year (an enrolment check by
    medical insurance or the insurer): a fact for the coverage checks, not scored."""

    model_config = _example({"scheme": "basic_medical", "insured": False, "year": 2027})

    scheme: InsuranceScheme
    insured: bool
    year: int = Field(ge=2000, le=2100, description="the coverage year")


class EmploymentStatus(_Payload):
    """Whether the envelope's member is employed (human resources' employment records): a fact for the
    coverage checks, not scored (a lost job that cuts income is reported as `unemployment`)."""

    model_config = _example({"employed": True, "since": "2026-11-01"})

    employed: bool
    since: date | None = Field(None, description="when the employment began or ended; the event's date when left out")


PAYLOAD_MODELS: dict[EventType, type[_Payload]] = {
    EventType.MEDICAL_EXPENSE: MedicalExpense,
    EventType.DISASTER_LOSS: DisasterLoss,
    EventType.INCOME_CHANGE: IncomeChange,
    EventType.ACCIDENT: Accident,
    EventType.UNEMPLOYMENT: Unemployment,
    EventType.DISABILITY: Disability,
    EventType.DEATH: Death,
    EventType.EDUCATION_EXPENSE: EducationExpense,
    EventType.SCHOOL_DROPOUT: SchoolDropout,
    EventType.HOUSING_SAFETY: HousingSafety,
    EventType.DRINKING_WATER: DrinkingWater,
    EventType.SELF_APPLICATION: SelfApplication,
    EventType.GRID_REPORT: GridReport,
    EventType.MEASURE_UPDATE: MeasureUpdate,
    EventType.INSURANCE_STATUS: InsuranceStatus,
    EventType.EMPLOYMENT_STATUS: EmploymentStatus,
}

# Event types by wire string, so a lookup replaces constructing the enum.
EVENT_TYPES: dict[str, EventType] = {event_type.value: event_type for event_type in EventType}

MEMBER_REQUIRED: frozenset[EventType] = frozenset(
    {EventType.DEATH, EventType.INSURANCE_STATUS, EventType.EMPLOYMENT_STATUS}
)
# Event types that report back on a case instead of describing the household: risk does not score them.
ACKNOWLEDGEMENT_TYPES: frozenset[EventType] = frozenset({EventType.MEASURE_UPDATE})
# A member's insurance and employment: facts for the coverage checks (`safetynet_core.coverage`), not risks.
COVERAGE_TYPES: frozenset[EventType] = frozenset({EventType.INSURANCE_STATUS, EventType.EMPLOYMENT_STATUS})
UNSCORED_TYPES: frozenset[EventType] = ACKNOWLEDGEMENT_TYPES | COVERAGE_TYPES

# A department's natural event types: what a client gets when created without --event-types.
DEPARTMENT_EVENT_TYPES: dict[str, tuple[EventType, ...]] = {
    "medical_insurance": (EventType.MEDICAL_EXPENSE, EventType.INSURANCE_STATUS, EventType.MEASURE_UPDATE),
    "civil_affairs": (EventType.INCOME_CHANGE, EventType.DEATH, EventType.SELF_APPLICATION, EventType.MEASURE_UPDATE),
    "emergency_management": (EventType.DISASTER_LOSS, EventType.ACCIDENT),
    "human_resources": (
        EventType.UNEMPLOYMENT,
        EventType.INCOME_CHANGE,
        EventType.EMPLOYMENT_STATUS,
        EventType.MEASURE_UPDATE,
    ),
    "education": (EventType.EDUCATION_EXPENSE, EventType.SCHOOL_DROPOUT, EventType.MEASURE_UPDATE),
    "housing": (EventType.HOUSING_SAFETY, EventType.MEASURE_UPDATE),
    "water": (EventType.DRINKING_WATER, EventType.MEASURE_UPDATE),
    "disability_federation": (EventType.DISABILITY, EventType.MEASURE_UPDATE),
    "police": (EventType.DEATH, EventType.ACCIDENT),
    "rural_revitalization": (EventType.INCOME_CHANGE, EventType.GRID_REPORT, EventType.INSURANCE_STATUS),
    "self_service": (EventType.SELF_APPLICATION,),
    "grid": (EventType.GRID_REPORT,),
}


def parse_payload(event_type: str, payload: dict[str, Any]) -> _Payload:
    """Validate a payload against its type's model (raises pydantic.ValidationError or KeyError)."""
    return PAYLOAD_MODELS[EventType(event_type)].model_validate(payload)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_parts(moment: datetime) -> tuple[int, int]:
    """(seconds, nanos) since the epoch: aware datetimes by plain arithmetic (intake's hot path), naive
    ones as local time, as astimezone has it."""
    if moment.tzinfo is None:
        moment = moment.astimezone(UTC)
    delta = moment - _EPOCH
    return delta.days * 86_400 + delta.seconds, delta.microseconds * 1000


def to_timestamp(moment: datetime) -> Timestamp:
    seconds, nanos = timestamp_parts(moment)
    return Timestamp(seconds=seconds, nanos=nanos)


def from_timestamp(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def to_struct(data: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(data)
    return struct


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def department_payload(event: household_events_pb2.DepartmentEvent) -> dict[str, Any]:
    """A department event's payload: its `payload_json`, or the Struct that older records carry."""
    if event.payload_json:
        payload: dict[str, Any] = orjson.loads(event.payload_json)
        return payload
    return from_struct(event.payload)


def now_utc() -> datetime:
    return datetime.now(UTC)


class PoisonRecord(ValueError):
    """A Kafka record a consumer cannot use. `reason` is a bounded label (undecodable, schema_version,
    unknown_type, invalid…): the DLQ's reason header and the dead-letter metric's label."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason


def parse_record(cls: type[MessageT], value: bytes | None) -> MessageT:
    """A record value as `cls`; PoisonRecord when it is not that protobuf or comes from a newer schema."""
    try:
        message = cls.FromString(value or b"")
    except DecodeError as exc:
        raise PoisonRecord("undecodable", f"not a {cls.__name__}: {exc}") from exc
    version = getattr(message, "schema_version", SCHEMA_VERSION)
    if version > SCHEMA_VERSION:
        raise PoisonRecord("schema_version", f"schema_version {version} is newer than {SCHEMA_VERSION}")
    return message


def parse_assessment(value: bytes | None) -> RiskAssessmentMessage:
    """A risk-assessments record; PoisonRecord when undecodable, from a newer schema or of an unknown level."""
    message = parse_record(RiskAssessmentMessage, value)
    if message.level not in ASSESSMENT_LEVELS:
        raise PoisonRecord("unknown_type", f"unknown level {message.level[:60]!r}")
    return message

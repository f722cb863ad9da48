"""Intake's answers as models (their OpenAPI schemas) and the request bodies the routes read themselves,
documented from the models that validate them: every event type's envelope and payload, discriminated by
`type`, and the registry record."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from safetynet_core.contracts import MEMBER_REQUIRED, PAYLOAD_MODELS, EventType
from safetynet_core.errors import ErrorItem
from safetynet_core.openapi import REF, add_component_schemas, schema_ref
from safetynet_intake.validation import TYPED_EVENT, HouseholdRecordIn

EVENT_SCHEMA = "DepartmentEventIn"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXAMPLE_HOUSEHOLD = "H610327101201042"
EXAMPLE_OCCURRED_AT = "2026-11-20T09:30:00+08:00"


class EventAccepted(BaseModel):
    event_id: str
    status: Literal["accepted"]
    duplicate: bool = False


class Rejection(BaseModel):
    """A rejected line (NDJSON) or row (CSV, XLSX: `row` is the sheet's row number, the header is row 1)."""

    line: int
    row: int | None = None
    errors: list[ErrorItem]


class EventBatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[Rejection]


class RegistryBatchResult(BaseModel):
    accepted: int
    unchanged: int
    rejected: list[Rejection]


class HouseholdAccepted(BaseModel):
    household_id: str
    status: Literal["accepted", "unchanged"]


class EventStatusOut(BaseModel):
    """A posted event and how far it got: accepted → published (on Kafka) → assessed (by risk)."""

    client_id: str
    department: str
    event_id: str
    type: str
    household_id: str
    member_id: str | None
    reference: str | None
    occurred_at: datetime
    received_at: datetime
    payload: dict[str, Any]
    status: Literal["accepted", "published", "assessed"]
    published_at: datetime | None
    assessment_id: str | None
    assessed_at: datetime | None
    case_id: str | None


class MaskedMember(BaseModel):
    model_config = ConfigDict(extra="allow")

    member_id: str
    name: str
    id_number_masked: str = Field(description="the ID number's last four characters only")
    birth_date: str | None = Field(None, pattern=r"^\d{4}$", description="the birth year only")
    labour_capacity: Literal["full", "partial", "none"]
    in_school: bool


class HouseholdOut(BaseModel):
    """A registry record as case workers see it: ID numbers, birth dates and the phone masked."""

    household_id: str
    region_code: str
    poverty_status: Literal["lifted", "general"]
    annual_net_income_cny: float
    head_member_id: str
    members: list[MaskedMember]
    phone: str | None
    grid_id: str | None
    updated_at: datetime


def event_example(event_type: EventType) -> dict[str, Any]:
    """A complete, valid event of this type, from its payload model's documented example."""
    payload = PAYLOAD_MODELS[event_type].model_json_schema()["examples"][0]
    example = {
        "event_id": f"{event_type.value}-20261120-0001",
        "type": event_type.value,
        "household_id": EXAMPLE_HOUSEHOLD,
        "occurred_at": EXAMPLE_OCCURRED_AT,
        "reference": f"{event_type.value.upper()}-0001",
        "payload": payload,
    }
    if event_type in MEMBER_REQUIRED or event_type in (EventType.MEDICAL_EXPENSE, EventType.MEASURE_UPDATE):
        example["member_id"] = f"{EXAMPLE_HOUSEHOLD}-02"
    return example


def event_body() -> dict[str, Any]:
    """POST /v1/events: one event, its payload typed by `type`; Swagger UI offers an example per type."""
    examples = {t.value: {"summary": t.value, "value": event_example(t)} for t in EventType}
    return {
        "required": True,
        "content": {"application/json": {"schema": schema_ref(EVENT_SCHEMA), "examples": examples}},
    }


def registry_body() -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema_ref(HouseholdRecordIn.__name__)}}}


def batch_body(item_schema: str, tabular: bool) -> dict[str, Any]:
    """NDJSON lines of `item_schema`; with `tabular`, also a CSV or XLSX file of one event type."""
    content: dict[str, Any] = {
        "application/x-ndjson": {
            "schema": {"type": "string", "description": f"one {item_schema} JSON object per line"},
        }
    }
    if tabular:
        columns = "columns: the envelope fields (event_id, household_id, member_id, occurred_at, reference) and the"
        described = f"{columns} payload fields of `?type=`; header row first (GET /v1/templates/{{type}}.csv)"
        content["text/csv"] = {"schema": {"type": "string", "description": f"UTF-8 CSV; {described}"}}
        content[XLSX] = {"schema": {"type": "string", "format": "binary", "description": f"first sheet; {described}"}}
    return {"required": True, "content": content}


def document_bodies(schema: dict[str, Any]) -> None:
    """OpenAPI hook: the typed event union and the registry record as components."""
    typed = TYPED_EVENT.json_schema(ref_template=REF)
    typed["description"] = "A department event: the envelope, `type`, and the payload that type defines."
    add_component_schemas(schema, HouseholdRecordIn, **{EVENT_SCHEMA: typed})

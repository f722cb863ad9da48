"""Request validation shared by the single and batch routes: the event envelope with its typed payload,
registry records, and NDJSON splitting. Errors come back as `{"loc", "msg", "type"}` items."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, Union

import msgspec
import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)

from safetynet_core.contracts import (
    EVENT_TYPES,
    IDENTIFIER_PATTERN,
    MEMBER_REQUIRED,
    PAYLOAD_MODELS,
    EventType,
    Money,
)
from safetynet_core.errors import validation_detail
from safetynet_core.payload_codec import PAYLOAD_STRUCTS, msgspec_type
from safetynet_intake import quality

ErrorList = list[dict[str, Any]]
Identifier = Annotated[str, Field(min_length=1, max_length=100, pattern=IDENTIFIER_PATTERN)]
EARLIEST_OCCURRED_AT = datetime(2000, 1, 1, tzinfo=UTC)


class _EnvelopeFields(BaseModel):
    """The fields every department event has besides its type and payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Identifier = Field(
        description="chosen by the sender, unique per department: the same id and body again is a duplicate"
    )
    household_id: Identifier = Field(description="the registry's household id")
    member_id: Identifier | None = Field(
        None, description="the member concerned (required for death, insurance_status and employment_status)"
    )
    occurred_at: AwareDatetime = Field(description="RFC 3339 with offset; not before 2000, not in the future")
    reference: str | None = Field(None, max_length=200, description="the sender's own record id")


class EventEnvelope(_EnvelopeFields):
    """A department event as posted; `payload` is checked against its type's model separately."""

    type: EventType
    payload: dict[str, Any] = Field(default_factory=dict)


def _typed_event(event_type: EventType, payload_model: type[BaseModel]) -> Any:
    type_literal: Any = Literal[event_type.value]
    fields: dict[str, Any] = {"type": (type_literal, ...), "payload": (payload_model, ...)}
    if event_type in MEMBER_REQUIRED:
        fields["member_id"] = (Identifier, Field(description="the member concerned: required for this type"))
    name = f"{payload_model.__name__}Event"
    doc = f"A `{event_type.value}` event: the envelope with its typed payload."
    return create_model(name, __base__=_EnvelopeFields, __doc__=doc, **fields)


# One model per event type: the envelope with that type's payload (validation and the OpenAPI document).
TYPED_EVENT_MODELS: dict[EventType, Any] = {t: _typed_event(t, m) for t, m in PAYLOAD_MODELS.items()}
# Envelope and typed payload in one validator call, picked by `type`: the path of events that are valid.
_TYPED_EVENT_TYPES: Any = Union[tuple(TYPED_EVENT_MODELS.values())]  # noqa: UP007
TYPED_EVENT: TypeAdapter[Any] = TypeAdapter(Annotated[_TYPED_EVENT_TYPES, Field(discriminator="type")])


# The common form of an RFC 3339 date-time with its offset (other forms go through pydantic): parsed by
# datetime.fromisoformat, which reads these exactly as pydantic does.
_PLAIN_RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"


def _has_validators(model: type[BaseModel]) -> bool:
    decorators = model.__pydantic_decorators__
    return bool(decorators.field_validators or decorators.model_validators)


def _compiled_event(event_type: EventType, model: type[BaseModel]) -> type[msgspec.Struct] | None:
    """A typed event model as a msgspec Struct tagged by `type`: the same fields and constraints, derived
    from the model (its payload through `payload_codec`); None when the payload model has validators of
    its own, which only pydantic runs. `occurred_at` is matched as a string here and parsed after."""
    if _has_validators(model) or _has_validators(PAYLOAD_MODELS[event_type]):
        return None
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, field in model.model_fields.items():
        if name == "type":
            continue
        annotation: Any
        if name == "payload":
            annotation = PAYLOAD_STRUCTS[event_type]
        elif field.annotation is AwareDatetime:
            annotation = Annotated[str, msgspec.Meta(pattern=_PLAIN_RFC3339)]
        else:
            annotation = msgspec_type(field.annotation, field.metadata)
        fields.append((name, annotation) if field.is_required() else (name, annotation, field.default))
    return msgspec.defstruct(
        model.__name__, fields, tag_field="type", tag=event_type.value, forbid_unknown_fields=True, kw_only=True
    )


# The compiled twins of TYPED_EVENT_MODELS, by type, where they can express the model: the fast way to accept a
# valid event. Anything they do not accept goes through pydantic, which accepts it or names the wrong field.
_COMPILED_EVENTS: dict[str, tuple[EventType, type[msgspec.Struct]]] = {
    event_type.value: (event_type, struct)
    for event_type, model in TYPED_EVENT_MODELS.items()
    if (struct := _compiled_event(event_type, model)) is not None
}


class MemberRecord(BaseModel):
    """A registry member; `id_number` is an 18-character PRC resident ID number."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    member_id: Identifier
    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(pattern=r"^\d{17}[\dXx]$")
    birth_date: date
    labour_capacity: Literal["full", "partial", "none"]
    in_school: bool = False


class HouseholdRecordIn(BaseModel):
    """A rural revitalization registry record for one household."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    household_id: Identifier
    region_code: str = Field(pattern=r"^\d{12}$")
    poverty_status: Literal["lifted", "general"]
    members: list[MemberRecord] = Field(min_length=1, max_length=50)
    annual_net_income_cny: Money
    head_member_id: Identifier
    phone: str | None = Field(None, pattern=r"^\+?[0-9][0-9 -]{4,19}$")
    grid_id: str | None = Field(None, max_length=100)

    @model_validator(mode="after")
    def _members_consistent(self) -> HouseholdRecordIn:
        ids = [m.member_id for m in self.members]
        if len(set(ids)) != len(ids):
            raise ValueError("member_id values must be unique within a household")
        if self.head_member_id not in ids:
            raise ValueError("head_member_id must name one of the members")
        return self


@dataclass(slots=True)
class ValidEvent:
    """An event that passed validation, with its normalised payload and the hash of the posted body."""

    event_id: str
    type: EventType
    household_id: str
    member_id: str | None
    occurred_at: datetime
    reference: str | None
    payload: dict[str, Any]
    body_hash: str


class InvalidInput(Exception):
    """Validation failed; `errors` are standard error items with `loc` naming the field."""

    def __init__(self, errors: ErrorList, status: int = 422) -> None:
        super().__init__(errors[0]["msg"] if errors else "invalid")
        self.errors = errors
        self.status = status


def error_item(loc: list[Any], msg: str, type_: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": type_}


def body_hash(document: Any) -> str:
    """Hash of the canonical JSON of a parsed body: key order and whitespace do not matter."""
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def parse_json(raw: bytes | str, loc: list[Any]) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput([error_item(loc, f"invalid JSON: {exc}", "json_invalid")]) from exc


def _object(document: Any, loc: list[Any]) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidInput([error_item(loc, "expected a JSON object", "dict_type")])
    return document


def _prefixed(exc: ValidationError, loc: list[Any]) -> ErrorList:
    return [{**e, "loc": [*loc, *e["loc"]]} for e in validation_detail(list(exc.errors()))]


def validate_event(document: Any, loc: list[Any], now: datetime, future_skew: timedelta) -> ValidEvent:
    """Check one event document: envelope, typed payload, member requirement and `occurred_at` bounds."""
    return (
        _compiled_valid_event(document, now, future_skew)
        or _valid_event(document, now, future_skew)
        or _checked_event(document, loc, now, future_skew)
    )


def _rule_errors(
    fields: Any, event_type: EventType, loc: list[Any], now: datetime, future_skew: timedelta
) -> ErrorList:
    """The rules beyond field types: a member for some types, `occurred_at` between 2000 and now."""
    errors: ErrorList = []
    if event_type in MEMBER_REQUIRED and not fields.member_id:
        errors.append(error_item([*loc, "member_id"], f"member_id is required for {event_type.value}", "missing"))
    if fields.occurred_at > now + future_skew:
        errors.append(error_item([*loc, "occurred_at"], "occurred_at is in the future", "value_error"))
    elif fields.occurred_at < EARLIEST_OCCURRED_AT:
        errors.append(error_item([*loc, "occurred_at"], "occurred_at is before 2000-01-01", "value_error"))
    return errors


def _valid(fields: Any, event_type: EventType, payload: dict[str, Any], document: Any) -> ValidEvent:
    return ValidEvent(
        fields.event_id,
        event_type,
        fields.household_id,
        fields.member_id,
        fields.occurred_at,
        fields.reference,
        payload,
        body_hash(document),
    )


def _valid_event(document: Any, now: datetime, future_skew: timedelta) -> ValidEvent | None:
    """The event when every rule holds, checked in one validator call; None when any fails, for
    `_checked_event` to say which."""
    try:
        typed = TYPED_EVENT.validate_python(document)
    except ValidationError:
        return None
    event_type = EVENT_TYPES[typed.type]
    if _rule_errors(typed, event_type, [], now, future_skew):
        return None
    return _valid(typed, event_type, typed.payload.model_dump(mode="json", exclude_none=True), document)


def _compiled_valid_event(document: Any, now: datetime, future_skew: timedelta) -> ValidEvent | None:
    """The event through the compiled decoder when every rule holds; None otherwise (pydantic decides)."""
    event_type_name = document.get("type") if isinstance(document, dict) else None
    compiled = _COMPILED_EVENTS.get(event_type_name) if isinstance(event_type_name, str) else None
    if compiled is None:
        return None
    event_type, struct = compiled
    try:
        typed: Any = msgspec.convert(document, struct)  # strict: coercions are left to pydantic
        typed.occurred_at = datetime.fromisoformat(typed.occurred_at)
    except (msgspec.ValidationError, ValueError):
        return None
    if _rule_errors(typed, event_type, [], now, future_skew):
        return None
    payload = {k: v for k, v in msgspec.to_builtins(typed.payload).items() if v is not None}
    return _valid(typed, event_type, payload, document)


def _checked_event(document: Any, loc: list[Any], now: datetime, future_skew: timedelta) -> ValidEvent:
    """Every rule step by step, each failure an error item naming its field (raises InvalidInput)."""
    data = _object(document, loc)
    try:
        envelope = EventEnvelope.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(_prefixed(exc, loc)) from exc
    errors: ErrorList = []
    payload: dict[str, Any] = {}
    try:
        model = PAYLOAD_MODELS[envelope.type].model_validate(envelope.payload)
        payload = model.model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        errors.extend(_prefixed(exc, [*loc, "payload"]))
    errors.extend(_rule_errors(envelope, envelope.type, loc, now, future_skew))
    if errors:
        raise InvalidInput(errors)
    return _valid(envelope, envelope.type, payload, data)


def validate_household(document: Any, loc: list[Any], household_id: str | None = None) -> HouseholdRecordIn:
    """Check one registry record; with `household_id` (the PUT path) the body must agree or omit it."""
    data = _object(document, loc)
    if household_id is not None:
        if data.get("household_id", household_id) != household_id:
            raise InvalidInput(
                [error_item([*loc, "household_id"], "household_id differs from the URL path", "value_error")]
            )
        data = {**data, "household_id": household_id}
    try:
        record = HouseholdRecordIn.model_validate(data)
    except ValidationError as exc:
        errors = _prefixed(exc, loc)
        quality.count_rejections(quality.Finding(quality.check_of_error(e), e["type"], "", "") for e in errors)
        raise InvalidInput(errors) from exc
    rejected = quality.reject_findings(record, datetime.now(UTC).date())
    if rejected:
        quality.count_rejections(rejected)
        raise InvalidInput([error_item([*loc, *f.loc], f.message, f"{f.check}.{f.rule}") for f in rejected])
    return record


def ndjson_lines(body: bytes, max_lines: int) -> list[tuple[int, bytes]]:
    """Non-blank lines with their 1-based line numbers; 413 beyond `max_lines`."""
    lines = [(number, line) for number, line in enumerate(body.split(b"\n"), start=1) if line.strip()]
    if len(lines) > max_lines:
        raise InvalidInput(
            [
                error_item(
                    ["body"],
                    f"batch has {len(lines)} lines; at most {max_lines} allowed",
                    "payload_too_large",
                )
            ],
            status=413,
        )
    if not lines:
        raise InvalidInput([error_item(["body"], "batch is empty", "missing")])
    return lines

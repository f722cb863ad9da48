"""Compiled JSON decoders for the department payloads, derived at import from the pydantic models in
`contracts.PAYLOAD_MODELS` (the one source of truth): the same fields, types, bounds, defaults and
`extra="forbid"`, as msgspec Structs. A hot consumer decodes and validates a `payload_json` in one call
instead of parsing it and then validating the parsed dict.

Only what the payload models use is translated (bounds, lengths, patterns, Literal, enums, unions, lists, None);
a model using anything else fails at import, so a new kind of constraint cannot be skipped silently."""

from __future__ import annotations

import types
from collections.abc import Iterable
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
import msgspec
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from safetynet_core.contracts import PAYLOAD_MODELS, EventType

_BOUNDS = {
    annotated_types.Ge: ("ge", "ge"),
    annotated_types.Gt: ("gt", "gt"),
    annotated_types.Le: ("le", "le"),
    annotated_types.Lt: ("lt", "lt"),
    annotated_types.MinLen: ("min_length", "min_length"),
    annotated_types.MaxLen: ("max_length", "max_length"),
}


def _constraints(metadata: Iterable[Any]) -> dict[str, Any]:
    """annotated_types bounds (directly, or inside a pydantic Field) as msgspec.Meta arguments."""
    found: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            found |= _constraints(item.metadata)
            continue
        if type(item).__name__ == "_PydanticGeneralMetadata" and set(vars(item)) <= {"pattern"}:
            found |= {"pattern": _end_anchored(item.pattern)}  # msgspec searches as `re` does; ours are anchored
            continue
        names = _BOUNDS.get(type(item))
        if names is None:
            raise TypeError(f"payload_codec cannot translate the constraint {item!r}")
        found[names[1]] = getattr(item, names[0])
    return found


def _end_anchored(pattern: str) -> str:
    """A final `$` as pydantic's regex engine reads it: the very end (in `re` it also matches before a final
    newline)."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern


def msgspec_type(annotation: Any, metadata: Iterable[Any] = ()) -> Any:
    """A type for msgspec: pydantic constraints (nested in Annotated, or `metadata` for the whole) as Meta;
    the constraints of an optional belong to its non-None member."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return msgspec_type(args[0], [*args[1:], *metadata])
    if origin in (Union, types.UnionType):
        members = [m for m in args if m is not type(None)]
        if metadata and len(members) == 1:
            return msgspec_type(members[0], metadata) | None
        translated = tuple(msgspec_type(m) for m in args)
        return _constrained(Union[translated], metadata)  # noqa: UP007 (a runtime union of computed members)
    if origin is list:
        return _constrained(list[msgspec_type(args[0])], metadata)  # type: ignore[misc]
    return _constrained(annotation, metadata)


def _constrained(annotation: Any, metadata: Iterable[Any]) -> Any:
    meta = _constraints(metadata)
    return Annotated[annotation, msgspec.Meta(**meta)] if meta else annotation


def struct_of(model: type[BaseModel]) -> type[msgspec.Struct]:
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, field in model.model_fields.items():
        annotation = msgspec_type(field.annotation, field.metadata)
        if field.is_required():
            fields.append((name, annotation))
        else:
            fields.append((name, annotation, field.default))
    forbid = model.model_config.get("extra") == "forbid"
    return msgspec.defstruct(model.__name__, fields, forbid_unknown_fields=forbid, frozen=True, kw_only=True)


PAYLOAD_STRUCTS: dict[EventType, type[msgspec.Struct]] = {t: struct_of(m) for t, m in PAYLOAD_MODELS.items()}
# strict=False: numbers in strings and the like are coerced as pydantic's lax mode does.
_DECODERS = {t: msgspec.json.Decoder(s, strict=False) for t, s in PAYLOAD_STRUCTS.items()}


def decode_payload(event_type: EventType, payload_json: bytes) -> dict[str, Any]:
    """The payload validated against its type and dumped as JSON-ready builtins (what the pydantic model's
    `model_dump(mode="json")` gives); raises msgspec.ValidationError / msgspec.DecodeError."""
    payload: dict[str, Any] = msgspec.to_builtins(_DECODERS[event_type].decode(payload_json))
    return payload

"""HTML forms for every task kind, derived from the form models in `forms.py` (one source of truth):
each model field becomes a widget, a submitted HTML form becomes the JSON dict the API takes, and the
validation errors the workflow returns are keyed by the widget they belong to."""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum, StrEnum
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from starlette.datastructures import FormData

from safetynet_core.contracts import RiskType
from safetynet_core.policy.workflow import WorkflowPolicy
from safetynet_workflow.tasks.forms import FORMS

MEASURE_ROWS = 3
TEXTAREA_FIELDS = frozenset({"notes", "findings", "description", "evidence", "reason", "problem"})
# Free-text fields whose values are known lists: the choices come from the case's policy or contracts.
CHOICES: dict[tuple[str, str], Callable[[WorkflowPolicy], list[str]]] = {
    ("Measure", "type"): lambda policy: list(policy.measure_types),
    ("DecisionForm", "risk_types"): lambda _: [r.value for r in RiskType],
}


class Widget(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    NUMBER = "number"
    DATE = "date"
    CHECK = "check"
    SELECT = "select"
    CHECKS = "checks"  # several of a known list
    MANY = "many"  # several free texts (e.g. visitors)
    ROWS = "rows"  # several sub-forms (e.g. measures)
    GROUP = "group"  # one sub-form (e.g. the guarantees checklist)


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the HTML name and the error key ("measures.0.type")
    label: str  # the model field name, the catalogue key is `field.<label>`
    widget: Widget
    required: bool = False
    choices: tuple[str, ...] = ()
    integer: bool = False
    inputs: int = 1  # MANY: how many inputs to show
    checked: bool = False  # CHECK: ticked on a fresh form (the model's default)
    rows: tuple[tuple[FieldSpec, ...], ...] = field(default=())


FormValues = Mapping[str, list[str]]


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _choices_of(annotation: Any) -> tuple[str, ...]:
    if get_origin(annotation) is Literal:
        return tuple(str(a) for a in get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(str(e.value) for e in annotation)
    return ()


def _min_items(info: FieldInfo) -> int:
    return max((getattr(m, "min_length", 0) or 0 for m in info.metadata), default=0)


def _spec(model: type[BaseModel], name: str, info: FieldInfo, policy: WorkflowPolicy, prefix: str) -> FieldSpec:
    annotation = _unwrap_optional(info.annotation)
    html_name = f"{prefix}{name}"
    required = info.is_required()
    override = CHOICES.get((model.__name__, name))
    if get_origin(annotation) is list:
        [item] = get_args(annotation)
        if isinstance(item, type) and issubclass(item, BaseModel):
            rows = tuple(
                tuple(
                    _spec(item, sub, sub_info, policy, f"{html_name}.{i}.")
                    for sub, sub_info in item.model_fields.items()
                )
                for i in range(MEASURE_ROWS)
            )
            return FieldSpec(html_name, name, Widget.ROWS, required, rows=rows)
        choices = tuple(override(policy)) if override else _choices_of(item)
        if choices:
            return FieldSpec(html_name, name, Widget.CHECKS, required, choices)
        return FieldSpec(html_name, name, Widget.MANY, required, inputs=max(_min_items(info), 1) + 1)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        group = tuple(_spec(annotation, sub, sub_info, policy, f"{html_name}.") for sub, sub_info in
                      annotation.model_fields.items())  # fmt: skip
        return FieldSpec(html_name, name, Widget.GROUP, required, rows=(group,))
    choices = tuple(override(policy)) if override else _choices_of(annotation)
    if choices:
        return FieldSpec(html_name, name, Widget.SELECT, required, choices)
    if annotation is bool:
        return FieldSpec(html_name, name, Widget.CHECK, required, checked=info.default is True)
    if annotation in (int, float):
        return FieldSpec(html_name, name, Widget.NUMBER, required, integer=annotation is int)
    if annotation is date:
        return FieldSpec(html_name, name, Widget.DATE, required)
    widget = Widget.TEXTAREA if name in TEXTAREA_FIELDS else Widget.TEXT
    return FieldSpec(html_name, name, widget, required)


def model_fields(model: type[BaseModel], policy: WorkflowPolicy, skip: tuple[str, ...] = ()) -> list[FieldSpec]:
    """The widgets of any request model's fields (except `skip`)."""
    return [_spec(model, name, info, policy, "") for name, info in model.model_fields.items() if name not in skip]


def form_fields(kind: str, policy: WorkflowPolicy) -> list[FieldSpec]:
    """The widgets of a task kind's form (empty when the kind has none)."""
    model = FORMS.get(kind)
    return [] if model is None else model_fields(model, policy)


def _number(raw: str, integer: bool) -> int | float | str:
    """A number when it parses (the form model reports anything else at its field)."""
    try:
        return int(raw) if integer else float(raw)
    except ValueError:
        return raw


def _value(spec: FieldSpec, values: FormValues) -> tuple[bool, Any]:
    """(present, value) of one widget in a submitted form; absent values let the model's defaults
    or its "field required" apply."""
    raw = [v.strip() for v in values.get(spec.name, [])]
    if spec.widget is Widget.CHECK:
        return True, bool(raw and raw[0])
    if spec.widget in (Widget.MANY, Widget.CHECKS):
        items = [v for v in raw if v]
        return bool(items) or spec.required, items
    if spec.widget is Widget.GROUP:
        return True, _parse(spec.rows[0], values)
    if spec.widget is Widget.ROWS:
        rows = [_parse(row, values) for row in spec.rows]
        while rows and not rows[-1]:  # trailing empty rows are unused; inner ones keep their index
            rows.pop()
        return bool(rows) or spec.required, rows
    text = raw[0] if raw else ""
    if not text:
        return False, None
    return True, _number(text, spec.integer) if spec.widget is Widget.NUMBER else text


def _parse(specs: tuple[FieldSpec, ...] | list[FieldSpec], values: FormValues) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for spec in specs:
        present, value = _value(spec, values)
        if present:
            data[spec.label] = value
    return data


def parse_form(kind: str, policy: WorkflowPolicy, values: FormValues) -> dict[str, Any]:
    """The JSON form of a `kind` task from submitted HTML form values."""
    return parse_fields(form_fields(kind, policy), values)


def parse_fields(specs: list[FieldSpec], values: FormValues) -> dict[str, Any]:
    """The JSON body of submitted HTML form values for these widgets."""
    return _parse(specs, values)


def _names(specs: list[FieldSpec] | tuple[FieldSpec, ...]) -> set[str]:
    names = {s.name for s in specs}
    for spec in specs:
        for row in spec.rows:
            names |= _names(row)
    return names


@dataclass
class FormState:
    """A submitted form shown again: its values, errors by widget, and errors of the form as a whole."""

    values: FormValues
    errors: dict[str, list[dict[str, Any]]]
    general: list[dict[str, Any]]


def form_state(specs: list[FieldSpec], values: FormValues, detail: list[dict[str, Any]]) -> FormState:
    """Key validation errors (`loc` like ["body", "measures", 0, "type"]) by the widget they belong to;
    an error on a list item (["body", "visitors", 1]) belongs to the list's widget."""
    names = _names(specs)
    errors: dict[str, list[dict[str, Any]]] = {}
    general: list[dict[str, Any]] = []
    for item in detail:
        loc = [str(p) for p in item.get("loc", []) if p != "body"]
        key = ".".join(loc[:3] if len(loc) >= 3 and loc[1].isdigit() else loc[:1])
        if key in names:
            errors.setdefault(key, []).append(item)
        else:
            general.append(item)
    return FormState(values, errors, general)


def submitted_values(form: FormData) -> dict[str, list[str]]:
    """A submitted HTML form as name -> texts (uploads are not part of any task form)."""
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, []).append(value)
    return values

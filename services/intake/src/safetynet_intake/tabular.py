"""CSV and XLSX batches: one event type per file (`?type=`), a header row naming the envelope and payload
fields, each row turned into the event document the JSON routes validate (so the same models, rules and
idempotency apply). Cells are converted by the payload model's field types; a cell that does not convert
is passed on as it is, for validation to name it. Also the downloadable templates per event type."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
from openpyxl.styles import Font
from openpyxl.worksheet.datavalidation import DataValidation
from python_calamine import CalamineError, CalamineWorkbook

from safetynet_core.contracts import MEMBER_REQUIRED, PAYLOAD_MODELS, EventType
from safetynet_intake.validation import ErrorList, InvalidInput, error_item

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ENVELOPE = ("event_id", "household_id", "member_id", "occurred_at", "reference")
_ENVELOPE_REQUIRED = frozenset({"event_id", "household_id", "occurred_at"})
_ENVELOPE_DESCRIPTIONS = {
    "event_id": "your id for this event, unique in your department (a re-sent row is a duplicate, not a new event)",
    "household_id": "the registry's household id",
    "member_id": "the member concerned (required for death, insurance_status and employment_status)",
    "occurred_at": "when it happened: 2026-11-20T09:30:00+08:00, or a date/time cell (county local time)",
    "reference": "your own record id (optional)",
}
LIST_SEPARATORS = (";", "；", "、", "|", ",", "，")
_TRUE = frozenset({"true", "1", "yes", "y", "是", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "否", "f"})


@dataclass(frozen=True)
class Column:
    """One template column: its name, the kind of value, whether it is required, and allowed choices."""

    name: str
    kind: str  # string, number, integer, boolean, list, integer_or_string, datetime
    required: bool
    description: str
    choices: tuple[Any, ...] = ()


def _kind(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    options = [o for o in prop.get("anyOf", [prop]) if o.get("type") != "null"]
    types = {o.get("type") for o in options}
    if types == {"integer", "string"}:
        return "integer_or_string", ()
    option = options[0]
    if option.get("type") == "array":
        items = option.get("items", {})
        ref = items.get("$ref", "").rsplit("/", 1)[-1]
        return "list", tuple(defs.get(ref, items).get("enum", ()))
    return str(option.get("type", "string")), tuple(option.get("enum", ()))


@cache
def columns(event_type: EventType) -> tuple[Column, ...]:
    """The envelope columns, then the payload fields of this type's model, in the model's order."""
    schema = PAYLOAD_MODELS[event_type].model_json_schema()
    required = set(schema.get("required", ()))
    required_envelope = _ENVELOPE_REQUIRED | ({"member_id"} if event_type in MEMBER_REQUIRED else set())
    found = [
        Column(name, "datetime" if name == "occurred_at" else "string", name in required_envelope, text)
        for name, text in _ENVELOPE_DESCRIPTIONS.items()
    ]
    for name, prop in schema.get("properties", {}).items():
        kind, choices = _kind(prop, schema.get("$defs", {}))
        description = prop.get("description") or prop.get("title", name)
        found.append(Column(name, kind, name in required, description, choices))
    return tuple(found)


# ---- cells to values ---------------------------------------------------------------------------------


def _number(value: Any) -> Any:
    """A number cell or text as int when integral (as a JSON body would say it), else float."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", ""))
        except ValueError:
            return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _text(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value.strip() if isinstance(value, str) else value


def _boolean(value: Any) -> Any:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    if isinstance(value, int | float) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


def _list(value: Any) -> Any:
    if not isinstance(value, str):
        return [_text(value)]
    text = value
    for separator in LIST_SEPARATORS[1:]:
        text = text.replace(separator, LIST_SEPARATORS[0])
    return [part.strip() for part in text.split(LIST_SEPARATORS[0]) if part.strip()]


def _moment(value: Any, zone: ZoneInfo) -> Any:
    """A date/time cell or ISO text; without an offset it is the county's local time."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return value.strip()
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).isoformat()
    return value


_CONVERT = {
    "number": _number,
    "integer": _number,
    "boolean": _boolean,
    "list": _list,
    "string": _text,
}


def _value(column: Column, cell: Any, zone: ZoneInfo) -> Any:
    if column.kind == "datetime":
        return _moment(cell, zone)
    if column.kind == "integer_or_string":
        number = _number(cell)
        return number if isinstance(number, int) else _text(cell)
    return _CONVERT[column.kind](cell)


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


# ---- files to event documents ------------------------------------------------------------------------


def _header(cells: Iterable[Any], event_type: EventType) -> list[Column | None]:
    """The columns in file order (None for an empty header cell); 422 naming unknown, repeated or missing ones."""
    by_name = {c.name: c for c in columns(event_type)}
    names = [_text(cell) if not _blank(cell) else "" for cell in cells]
    errors: ErrorList = []
    for index, name in enumerate(names):
        if name and name not in by_name and name != "type":
            message = f"unknown column {name!r}; known: {', '.join(by_name)}"
            errors.append(error_item(["body", "header", index + 1], message, "extra"))
        elif name and names.index(name) != index:
            errors.append(error_item(["body", "header", index + 1], f"column {name!r} appears twice", "duplicate"))
    errors.extend(
        error_item(["body", "header", c.name], f"required column {c.name!r} is missing", "missing")
        for c in by_name.values()
        if c.required and c.name not in names
    )
    if errors:
        raise InvalidInput(errors)
    return [by_name.get(name) if name != "type" else Column("type", "string", False, "") for name in names]


def _document(header: list[Column | None], cells: tuple[Any, ...], event_type: EventType, zone: ZoneInfo) -> Any:
    document: dict[str, Any] = {"type": event_type.value}
    payload: dict[str, Any] = {}
    for column, cell in zip(header, cells, strict=False):
        if column is None or _blank(cell):
            continue
        value = _value(column, cell, zone)
        if column.name in ENVELOPE or column.name == "type":
            document[column.name] = value
        else:
            payload[column.name] = value
    document["payload"] = payload
    return document


def _too_large(message: str) -> InvalidInput:
    return InvalidInput([error_item(["body"], message, "payload_too_large")], status=413)


def _rows(
    numbered: Iterator[tuple[int, tuple[Any, ...]]], event_type: EventType, max_rows: int, zone: ZoneInfo
) -> list[tuple[int, Any]]:
    """(sheet row number, event document) of the non-blank rows after the header; 413 past `max_rows`."""
    header: list[Column | None] | None = None
    documents: list[tuple[int, Any]] = []
    for number, cells in numbered:
        if all(_blank(cell) for cell in cells):
            continue
        if header is None:
            header = _header(cells, event_type)
            continue
        if len(documents) == max_rows:
            raise _too_large(f"file has more than {max_rows} rows; at most {max_rows} allowed")
        documents.append((number, _document(header, cells, event_type, zone)))
    if not documents:
        raise InvalidInput([error_item(["body"], "file has no rows after the header", "missing")])
    return documents


def _decode_csv(body: bytes, charset: str | None) -> str:
    """UTF-8 (with or without BOM), the charset named in Content-Type, or GB18030 (what Excel on a
    Chinese Windows saves)."""
    for encoding in (charset, "utf-8-sig", "gb18030"):
        if encoding:
            try:
                return body.decode(encoding)
            except (UnicodeDecodeError, LookupError):
                continue
    raise InvalidInput([error_item(["body"], "CSV is neither UTF-8 nor GB18030 text", "unicode_decode")])


def read_csv(
    body: bytes, event_type: EventType, max_rows: int, zone: ZoneInfo, charset: str | None = None
) -> list[tuple[int, Any]]:
    reader = csv.reader(io.StringIO(_decode_csv(body, charset), newline=""))
    try:
        numbered = ((number, tuple(cells)) for number, cells in enumerate(reader, start=1))
        return _rows(numbered, event_type, max_rows, zone)
    except csv.Error as exc:
        raise InvalidInput([error_item(["body"], f"not valid CSV: {exc}", "csv_invalid")]) from exc


def read_xlsx(
    body: bytes, event_type: EventType, max_rows: int, zone: ZoneInfo, max_unpacked_bytes: int
) -> list[tuple[int, Any]]:
    """The first sheet (python-calamine); refuses archives that unpack past `max_unpacked_bytes` (413)."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
        if unpacked > max_unpacked_bytes:
            raise _too_large(f"XLSX unpacks to more than {max_unpacked_bytes} bytes")
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(body)).get_sheet_by_index(0)
        first_row = sheet.start[0] if sheet.start else 0
        numbered = ((first_row + index, tuple(cells)) for index, cells in enumerate(sheet.iter_rows(), start=1))
        return _rows(numbered, event_type, max_rows, zone)
    except (zipfile.BadZipFile, CalamineError, IndexError) as exc:
        raise InvalidInput([error_item(["body"], f"not an XLSX workbook: {exc}"[:300], "xlsx_invalid")]) from exc


def tabular_errors(errors: ErrorList) -> ErrorList:
    """Error locations as the file's columns: a payload field's location drops the `payload` prefix."""
    return [{**e, "loc": e["loc"][1:]} if e["loc"][:1] == ["payload"] and len(e["loc"]) > 1 else e for e in errors]


def media_type_of(content_type: str) -> tuple[str, str | None]:
    """`text/csv; charset=gbk` → ("text/csv", "gbk")."""
    media_type, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media_type.strip().lower(), charset


@dataclass(frozen=True)
class Batch:
    """A batch's numbered items (NDJSON lines or table rows), how to turn one into an event document,
    and how a rejection names its place (`line`, and `row` for tables with column locations)."""

    items: list[tuple[int, Any]]
    parse: Callable[[Any], Any]
    tabular: bool

    def rejection(self, number: int, errors: ErrorList) -> dict[str, Any]:
        if self.tabular:
            return {"line": number, "row": number, "errors": tabular_errors(errors)}
        return {"line": number, "errors": errors}


# ---- templates ---------------------------------------------------------------------------------------


def _example_row(event_type: EventType, example: dict[str, Any]) -> list[Any]:
    payload = example["payload"]
    row = []
    for column in columns(event_type):
        value = example.get(column.name, payload.get(column.name))
        row.append(LIST_SEPARATORS[0].join(value) if isinstance(value, list) else value)
    return row


def csv_template(event_type: EventType, example: dict[str, Any]) -> bytes:
    """UTF-8 with BOM (so Excel opens it as UTF-8): the header and one example row."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([c.name for c in columns(event_type)])
    writer.writerow(["" if v is None else v for v in _example_row(event_type, example)])
    return out.getvalue().encode("utf-8-sig")


def xlsx_template(event_type: EventType, example: dict[str, Any]) -> bytes:
    """Sheet `events` with the header (choices as drop-down lists), `fields` describing each column and
    `example` with a filled-in row. Only the first sheet is read back."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None  # noqa: S101 (a new workbook has its sheet)
    sheet.title = "events"
    cols = columns(event_type)
    sheet.append([c.name for c in cols])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(cols, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True, color="C00000" if column.required else "000000")
        sheet.column_dimensions[cell.column_letter].width = max(14, len(column.name) + 4)
        choices = column.choices or ((True, False) if column.kind == "boolean" else ())
        if choices and column.kind != "list":
            listed = ",".join(str(c).upper() if isinstance(c, bool) else str(c) for c in choices)
            validation = DataValidation(type="list", formula1=f'"{listed}"', allow_blank=not column.required)
            validation.add(f"{cell.column_letter}2:{cell.column_letter}10001")
            sheet.add_data_validation(validation)
    fields = workbook.create_sheet("fields")
    fields.append(["column", "required", "kind", "choices", "description"])
    for column in cols:
        listed = LIST_SEPARATORS[0].join(str(c) for c in column.choices)
        fields.append([column.name, "yes" if column.required else "", column.kind, listed, column.description])
    examples = workbook.create_sheet("example")
    examples.append([c.name for c in cols])
    examples.append(_example_row(event_type, example))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

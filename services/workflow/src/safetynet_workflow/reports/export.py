"""A table as a download: CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese) or XLSX
(openpyxl). Times in the county's time zone; a text cell that a spreadsheet would run as a formula is
written as text (a leading apostrophe)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi.responses import Response
from openpyxl import Workbook

Format = Literal["csv", "xlsx"]
COUNTY_ZONE = ZoneInfo("Asia/Shanghai")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SHEET_TITLE_MAX = 31


def cell(value: Any) -> Any:
    """A value as a spreadsheet cell: numbers stay numbers, everything else becomes safe text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.astimezone(COUNTY_ZONE).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = "、".join(str(v) for v in value)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def table_csv(headings: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headings)
    writer.writerows([cell(v) for v in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def table_xlsx(headings: Sequence[str], rows: Iterable[Sequence[Any]], title: str) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:SHEET_TITLE_MAX])
    sheet.append(list(headings))
    for row in rows:
        sheet.append([cell(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def download(
    fmt: Format, columns: Sequence[tuple[str, str]], items: Sequence[dict[str, Any]], filename: str, title: str
) -> Response:
    """`items` as a CSV or XLSX attachment; `columns` are (key, heading) pairs in order."""
    headings = [heading for _, heading in columns]
    rows = [[item.get(key) for key, _ in columns] for item in items]
    body = table_csv(headings, rows) if fmt == "csv" else table_xlsx(headings, rows, title)
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'},
    )

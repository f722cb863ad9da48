"""A region of the directory (code, name, level, parent) and the `code,name,parent` CSV it is loaded from.

The level follows from the code (DESIGN.md §1): 6 digits a county, 9 a township, 12 a village; a township's
parent is its county, a village's its township (the CSV may leave it empty or must name exactly that)."""

from __future__ import annotations

import csv
import io
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from safetynet_core.vocabulary import REGION_CODE_PATTERN

DEFAULT_DIRECTORY = Path(__file__).parent / "longxian.csv"  # 陇县 610327, its ten towns, the demo's villages
CSV_HEADER = ("code", "name", "parent")
NAME_MAX = 100
CITY_CODE = re.compile(r"^\d{4}$")


class RegionLevel(StrEnum):
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"


LEVEL_OF_LENGTH = {6: RegionLevel.COUNTY, 9: RegionLevel.TOWNSHIP, 12: RegionLevel.VILLAGE}


class Region(BaseModel):
    """One region as `GET /v1/regions` shows it."""

    code: str
    name: str
    level: RegionLevel
    parent: str | None


def level_of(code: str) -> RegionLevel | None:
    return LEVEL_OF_LENGTH.get(len(code)) if code.isdigit() else None


def parent_of(code: str) -> str | None:
    """The code of the region a township or village belongs to (None for a county)."""
    return code[:-3] if level_of(code) in (RegionLevel.TOWNSHIP, RegionLevel.VILLAGE) else None


class RegionFileError(ValueError):
    """A regions CSV with bad lines; `errors` name each line (1 is the header) and field."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"line {e['line']} {e['field']}: {e['msg']}" for e in errors))
        self.errors = errors


def _region_of(row: dict[str, str], line: int) -> tuple[Region | None, list[dict[str, Any]]]:
    code, name, parent = (row.get(k, "").strip() for k in CSV_HEADER)
    errors: list[dict[str, Any]] = []

    def error(field: str, msg: str) -> None:
        errors.append({"line": line, "field": field, "msg": msg})

    level = level_of(code) if re.match(REGION_CODE_PATTERN, code) else None
    if level is None:
        error("code", f"{code!r} is not a 6, 9 or 12-digit region code")
    if not name or len(name) > NAME_MAX:
        error("name", f"a name of 1 to {NAME_MAX} characters is required")
    expected = parent_of(code) if level else None
    if level is RegionLevel.COUNTY and parent and not CITY_CODE.match(parent):
        error("parent", "a county's parent is empty or a 4-digit city code")
    elif expected and parent and parent != expected:
        error("parent", f"the parent of {code} is {expected}, not {parent}")
    if errors or level is None:
        return None, errors
    return Region(code=code, name=name, level=level, parent=expected or parent or None), []


def parse_regions(text: str) -> list[Region]:
    """The regions of a `code,name,parent` CSV (header first, UTF-8, a BOM allowed); RegionFileError
    naming every bad line and field, or a code given twice."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    if tuple(h.strip() for h in reader.fieldnames or ()) != CSV_HEADER:
        raise RegionFileError([{"line": 1, "field": "header", "msg": f"the header must be {','.join(CSV_HEADER)}"}])
    regions: dict[str, Region] = {}
    errors: list[dict[str, Any]] = []
    for line, row in enumerate(reader, start=2):
        region, problems = _region_of({k.strip(): v or "" for k, v in row.items() if k}, line)
        errors.extend(problems)
        if region is not None and region.code in regions:
            errors.append({"line": line, "field": "code", "msg": f"{region.code} is listed twice"})
        elif region is not None:
            regions[region.code] = region
    if errors:
        raise RegionFileError(errors)
    return list(regions.values())


def default_regions() -> list[Region]:
    """The directory every new database starts with."""
    return parse_regions(DEFAULT_DIRECTORY.read_text(encoding="utf-8"))

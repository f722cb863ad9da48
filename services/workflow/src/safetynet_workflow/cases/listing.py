"""The case list (`GET /v1/cases`, the /cases page and its CSV and XLSX exports): its query parameters,
the opaque cursor of its pages, and one page of cases with region names and task counts."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query

from safetynet_core.auth import Principal
from safetynet_core.errors import ApiError
from safetynet_core.web import listing_region
from safetynet_workflow.cases.models import CaseFilter
from safetynet_workflow.cases.service import measures_scope
from safetynet_workflow.cases.store import CaseStore, case_json
from safetynet_workflow.regions.service import RegionDirectory

STATUSES = ("open", "screening", "verifying", "assisting", "evaluating", "closed")
STEPS = ("screen", "verify", "assist", "evaluate", "close")
CATEGORIES = ("unstable_lifted", "marginal", "sudden_hardship")


def _choice(values: tuple[str, ...]) -> str:
    return f"^(|{'|'.join(values)})$"  # empty: no filter (what an HTML form sends for "all")


@dataclass(frozen=True)
class CaseQuery:
    """The case list's query parameters (the API's and the page's)."""

    status: str | None
    step: str | None
    region: str | None
    q: str | None
    category: str | None
    overdue: bool
    open_tasks: bool
    breached: bool
    opened_from: datetime | None
    opened_to: datetime | None
    closed_from: datetime | None
    closed_to: datetime | None
    limit: int
    cursor: str | None

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string of this list (with `changes`), without empty values."""
        values = {**asdict(self), **changes}
        return {k: _param(v) for k, v in values.items() if v not in (None, "", False)}


def _param(value: Any) -> str:
    if value is True:
        return "true"
    return value.isoformat() if isinstance(value, datetime) else str(value)


def case_query(
    status: Annotated[str | None, Query(pattern=_choice(STATUSES), description="a status, or open")] = None,
    step: Annotated[str | None, Query(pattern=_choice(STEPS))] = None,
    region: Annotated[str | None, Query(max_length=12, description="region code prefix (403 outside scope)")] = None,
    q: Annotated[str | None, Query(max_length=100, description="household id (prefix) or head's name")] = None,
    category: Annotated[str | None, Query(pattern=_choice(CATEGORIES))] = None,
    overdue: Annotated[bool, Query(description="only cases with an overdue open task")] = False,
    open_tasks: Annotated[bool, Query(description="only cases with an open task")] = False,
    breached: Annotated[bool, Query(description="only cases past the identification limit")] = False,
    opened_from: Annotated[datetime | None, Query(description="opened at or after")] = None,
    opened_to: Annotated[datetime | None, Query(description="opened before")] = None,
    closed_from: Annotated[datetime | None, Query(description="closed at or after")] = None,
    closed_to: Annotated[datetime | None, Query(description="closed before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[str | None, Query(max_length=300, description="next_cursor of the previous page")] = None,
) -> CaseQuery:
    return CaseQuery(
        status=status or None, step=step or None, region=region or None, q=(q or "").strip() or None,
        category=category or None, overdue=overdue, open_tasks=open_tasks, breached=breached,
        opened_from=opened_from, opened_to=opened_to, closed_from=closed_from, closed_to=closed_to, limit=limit,
        cursor=cursor or None,
    )  # fmt: skip


def encode_cursor(row: dict[str, Any]) -> str:
    raw = json.dumps([row["opened_at"].isoformat(), row["case_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        opened_at, case_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(opened_at), str(case_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ApiError(422, "not a cursor this list gave out", ["query", "cursor"]) from exc


def case_filter(principal: Principal, query: CaseQuery) -> CaseFilter:
    return CaseFilter(
        prefix=listing_region(principal, query.region), status=query.status, step=query.step,
        category=query.category, q=query.q, overdue=query.overdue, open_tasks=query.open_tasks,
        breached=query.breached, opened_from=query.opened_from, opened_to=query.opened_to,
        closed_from=query.closed_from, closed_to=query.closed_to, measures_of=measures_scope(principal),
    )  # fmt: skip


def listed_case(row: dict[str, Any], regions: RegionDirectory) -> dict[str, Any]:
    """A case as lists show it: the API's case, its region's name and its open and overdue task counts."""
    return {
        **case_json(row),
        "region_name": regions.label(row["region_code"]),
        "open_tasks": int(row.get("open_tasks") or 0),
        "overdue_tasks": int(row.get("overdue_tasks") or 0),
    }


async def case_list(
    principal: Principal, store: CaseStore, regions: RegionDirectory, query: CaseQuery
) -> dict[str, Any]:
    """One page of the caller's cases: `{"cases", "next_cursor"}` (null on the last page)."""
    after = decode_cursor(query.cursor) if query.cursor else None
    rows = await store.list_cases(case_filter(principal, query), query.limit + 1, datetime.now(UTC), after)
    page, more = rows[: query.limit], len(rows) > query.limit
    return {
        "cases": [listed_case(r, regions) for r in page],
        "next_cursor": encode_cursor(page[-1]) if more else None,
    }

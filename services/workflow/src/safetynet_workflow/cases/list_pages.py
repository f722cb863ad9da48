"""The case list page: the caller's cases filtered (step, status, category, region, overdue, ...), searched
by household id or head's name, a page at a time, and exported as CSV or XLSX exactly as shown. The data
is the case list service's (as for `GET /v1/cases`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from safetynet_core.auth import Principal, Role
from safetynet_core.errors import ApiError
from safetynet_workflow.cases.api import CaseStoreDep
from safetynet_workflow.cases.listing import CATEGORIES, STATUSES, STEPS, CaseQuery, case_list, case_query
from safetynet_workflow.regions.api import RegionsDep
from safetynet_workflow.regions.service import RegionDirectory
from safetynet_workflow.reports.export import download
from safetynet_workflow.ui.i18n import Translate, lang_of, translator
from safetynet_workflow.ui.links import query_href
from safetynet_workflow.ui.records import is_late
from safetynet_workflow.ui.render import api_error_message, error_page, page
from safetynet_workflow.ui.session import UiPrincipal

router = APIRouter()
PAGE_SIZE = 50
Query_ = Annotated[CaseQuery, Depends(case_query)]
# The exported columns: (key, catalogue key of the heading); labelled values are translated.
EXPORT_COLUMNS = (
    ("household_id", "col.household_id"),
    ("head_name", "col.head"),
    ("region_name", "col.region"),
    ("category", "case.category"),
    ("step", "case.step"),
    ("status", "case.status"),
    ("level", "case.level"),
    ("score", "case.score"),
    ("opened_at", "case.opened_at"),
    ("closed_at", "col.closed"),
    ("responsible", "col.responsible"),
    ("open_tasks", "col.open_tasks"),
    ("overdue_tasks", "col.overdue_tasks"),
    ("case_id", "col.case"),
)
LABELLED = ("category", "step", "status", "level")


def region_options(regions: RegionDirectory, principal: Principal) -> list[tuple[str, str, int]]:
    """(code, name, depth) of the regions a caller may filter by: their own region's children and
    grandchildren (an admin: the counties and their townships)."""
    tops = regions.roots() if principal.role is Role.ADMIN else regions.children_of(principal.region)
    options = []
    for region in tops:
        options.append((region.code, region.name, 0))
        options.extend((child.code, child.name, 1) for child in regions.children_of(region.code))
    return options


def page_query(request: Request, query: CaseQuery) -> CaseQuery:
    """The page shows PAGE_SIZE cases unless the link names a limit."""
    return query if "limit" in request.query_params else replace(query, limit=PAGE_SIZE)


async def _listed(
    request: Request, principal: Principal, store: CaseStoreDep, regions: RegionDirectory, query: CaseQuery
) -> dict[str, Any]:
    listed = await case_list(principal, store, regions, page_query(request, query))
    now = datetime.now(UTC)
    listed["cases"] = [{**c, "late": c["overdue_tasks"] > 0 or is_late(c, now)} for c in listed["cases"]]
    return listed


@router.get("/cases")
async def cases_page(
    request: Request, principal: UiPrincipal, store: CaseStoreDep, regions: RegionsDep, query: Query_
) -> Response:
    try:
        listed = await _listed(request, principal, store, regions, query)
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    shown = page_query(request, query)
    more = listed["next_cursor"]
    return page(
        request, "cases.html", principal=principal, cases=listed["cases"], query=shown,
        options=region_options(regions, principal), statuses=STATUSES, steps=STEPS, categories=CATEGORIES,
        next_href=query_href("/cases", **shown.params(cursor=more)) if more else None,
        first_href=query_href("/cases", **shown.params(cursor=None)) if shown.cursor else None,
        csv_href=query_href("/cases.csv", **shown.params()), xlsx_href=query_href("/cases.xlsx", **shown.params()),
    )  # fmt: skip


def export_rows(cases: list[dict[str, Any]], t: Translate) -> list[dict[str, Any]]:
    """The cases with their head's name and the labelled values in the page's language."""
    return [
        {
            **case,
            "head_name": case["household"]["head_name"],
            **{key: t(f"{key}.{case[key]}") for key in LABELLED if case.get(key)},
        }
        for case in cases
    ]


@router.get("/cases.{fmt}")
async def cases_export(
    request: Request,
    principal: UiPrincipal,
    store: CaseStoreDep,
    regions: RegionsDep,
    query: Query_,
    fmt: Annotated[Literal["csv", "xlsx"], Path()],
) -> Response:
    """The cases the list shows with the same filters and page, as a CSV or XLSX file."""
    try:
        listed = await _listed(request, principal, store, regions, query)
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    t = translator(lang_of(request))
    columns = [(key, t(heading)) for key, heading in EXPORT_COLUMNS]
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return download(fmt, columns, export_rows(listed["cases"], t), f"safetynet-cases-{stamp}", t("cases.title"))

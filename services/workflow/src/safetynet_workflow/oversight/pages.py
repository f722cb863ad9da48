"""The oversight pages: the dashboard (the landing page of officers and auditors: charts of the child regions
and the weekly trend, every number a link into the filtered case list), 应纳未纳, the township scorecard with
its exports, and upward report submissions (submit, review, who has not submitted). Data and checks are the
oversight services' (as for `/v1/dashboard`, `/v1/reports/...`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from safetynet_core.auth import Principal
from safetynet_core.errors import ApiError
from safetynet_workflow.oversight import dashboard as dashboard_service
from safetynet_workflow.oversight import scorecard as scorecard_service
from safetynet_workflow.oversight import submissions
from safetynet_workflow.oversight.api import RegionQuery, Sources
from safetynet_workflow.oversight.dashboard import OPEN_STEPS
from safetynet_workflow.oversight.periods import Period, period_start, quarter_of, today
from safetynet_workflow.reports.service import missed_rule, named, report_region
from safetynet_workflow.ui.i18n import Lang, lang_of, translator
from safetynet_workflow.ui.links import cases_href, query_href
from safetynet_workflow.ui.records import may
from safetynet_workflow.ui.render import api_error_message, error_page, page
from safetynet_workflow.ui.session import UiPrincipal

router = APIRouter()
MISSED_PAGE_LIMIT = 500
QUARTERS_SHOWN = 4


def child_links(child: dict[str, Any]) -> dict[str, str]:
    """Where each number of a child region leads: the case list filtered to exactly that number."""
    code = child["code"]
    links = {
        "monitored_households": cases_href(region=code, status="open"),
        "open_tasks": cases_href(region=code, open_tasks=True),
        "overdue_tasks": cases_href(region=code, overdue=True),
        "identification_breaches": cases_href(region=code, breached=True),
        "missed_inclusions": query_href("/reports/missed-inclusions", region=code),
        "dashboard": query_href("/dashboard", region=code),
    }
    links.update({step: cases_href(region=code, step=step, status="open") for step in OPEN_STEPS})
    return links


def trend_links(prefix: str, week: dict[str, Any]) -> dict[str, str]:
    return {
        "opened": cases_href(region=prefix, opened_from=week["starts_at"], opened_to=week["ends_at"]),
        "closed": cases_href(region=prefix, status="closed", closed_from=week["starts_at"], closed_to=week["ends_at"]),
    }


async def _page_or_error(request: Request, call: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await call()
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))


@router.get("/dashboard")
async def dashboard_page(
    request: Request, principal: UiPrincipal, sources: Sources, region: RegionQuery = None
) -> Response:
    """The region's children in charts and a table, the weekly trend, and who has not reported this week."""

    async def render() -> Response:
        now = datetime.now(UTC)
        board = await dashboard_service.dashboard(principal, sources, region, now)
        prefix = board["region"]["code"]
        children = [{**c, "links": child_links(c)} for c in board["children"]]
        trend = [{**w, "links": trend_links(prefix, w)} for w in board["trend"]]
        totals = {**board["totals"], "links": child_links(board["totals"])}
        chart = {"children": children, "trend": trend,
                 "steps": {s: translator(lang_of(request))(f"step.{s}") for s in OPEN_STEPS}}  # fmt: skip
        county = len(prefix) == 6  # its townships report weekly
        unreported = await submissions.missing(principal, sources, prefix, "week", None, now) if county else None
        parent = prefix[:-3] if len(prefix) > max(len(principal.region), 6) else None
        return page(
            request, "dashboard.html", principal=principal, board=board, children=children, trend=trend,
            totals=totals, chart=chart, unreported=unreported, parent=parent,
            villages=len(prefix) >= 9,
        )  # fmt: skip

    return await _page_or_error(request, render)


@router.get("/reports/missed-inclusions")
async def missed_page(
    request: Request, principal: UiPrincipal, sources: Sources, region: RegionQuery = None
) -> Response:
    """应纳未纳: households whose latest assessment opens a case, without one, with the assessment's reasons."""

    async def render() -> Response:
        prefix = report_region(principal, region)
        rule = missed_rule(sources.policy)
        items = await sources.reports.missed_inclusions(prefix, datetime.now(UTC), rule, MISSED_PAGE_LIMIT)
        return page(request, "missed.html", principal=principal, items=named(items, sources.regions),
                    region_code=prefix, limit_days=sources.policy.workflow.identification_days)  # fmt: skip

    return await _page_or_error(request, render)


def recent_quarters(now: datetime) -> list[str]:
    start = period_start("quarter", today(now))
    quarters = []
    for _ in range(QUARTERS_SHOWN):
        quarters.append(quarter_of(start))
        start = period_start("quarter", date.fromordinal(start.toordinal() - 1))
    return quarters


@router.get("/scorecard")
async def scorecard_page(
    request: Request,
    principal: UiPrincipal,
    sources: Sources,
    region: RegionQuery = None,
    quarter: Annotated[str | None, Query(pattern=r"^\d{4}-Q[1-4]$")] = None,
) -> Response:
    """The township scorecard of a quarter, with CSV and XLSX exports of the same table."""

    async def render() -> Response:
        now = datetime.now(UTC)
        card = await scorecard_service.scorecard(principal, sources, region, quarter, now)
        params = {"region": card["region"]["code"], "quarter": card["quarter"]}
        return page(
            request, "scorecard.html", principal=principal, card=card, quarters=recent_quarters(now),
            csv_href=query_href("/scorecard.csv", **params), xlsx_href=query_href("/scorecard.xlsx", **params),
        )  # fmt: skip

    return await _page_or_error(request, render)


@router.get("/scorecard.{fmt}")
async def scorecard_export(
    request: Request,
    principal: UiPrincipal,
    sources: Sources,
    fmt: Annotated[Literal["csv", "xlsx"], Path()],
    region: RegionQuery = None,
    quarter: Annotated[str | None, Query(pattern=r"^\d{4}-Q[1-4]$")] = None,
) -> Response:
    async def render() -> Response:
        card = await scorecard_service.scorecard(principal, sources, region, quarter, datetime.now(UTC))
        return scorecard_service.scorecard_file(card, fmt, english=lang_of(request) is Lang.EN)

    return await _page_or_error(request, render)


def _submission_context(principal: Principal, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each submission and whether the caller may review it (an officer of a region above it)."""
    reviewer = may(principal, submissions.REVIEWING_ROLES)
    return [
        {**row, "reviewable": reviewer and row["status"] == "submitted" and len(principal.region) < len(row["region"])}
        for row in rows
    ]


@router.get("/reports/submissions")
async def submissions_page(
    request: Request,
    principal: UiPrincipal,
    sources: Sources,
    region: RegionQuery = None,
    status: Annotated[str | None, Query(pattern="^(|submitted|approved|returned)$")] = None,
    done: Annotated[str | None, Query(max_length=40)] = None,
    error: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """Reports submitted under the region, the form to submit one, and who has not submitted this week."""

    async def render() -> Response:
        now = datetime.now(UTC)
        rows = await submissions.listing(principal, sources, region, status or None)
        prefix = report_region(principal, region)
        return page(
            request, "submissions.html", principal=principal, rows=_submission_context(principal, rows),
            status=status or "", unreported=await submissions.missing(principal, sources, prefix, "week", None, now),
            may_submit=may(principal, submissions.SUBMITTING_ROLES) and len(principal.region) in (6, 9),
            this_week=period_start("week", today(now)).isoformat(), done=done, error=error,
        )  # fmt: skip

    return await _page_or_error(request, render)


def _back(done: str | None = None, error: str | None = None) -> RedirectResponse:
    return RedirectResponse(query_href("/reports/submissions", done=done, error=error), status_code=303)


@router.post("/reports/submissions")
async def submit_page(
    principal: UiPrincipal,
    sources: Sources,
    period: Annotated[Period, Form()],
    period_start_: Annotated[str, Form(alias="period_start", max_length=20)],
) -> Response:
    """Submit the caller's own region's report (the service checks it like the API)."""
    try:
        body = submissions.SubmissionRequest(region=principal.region, period=period, period_start=period_start_)
        await submissions.submit(principal, sources, body, datetime.now(UTC))
    except ValidationError as exc:
        return _back(error=str(exc.errors()[0]["msg"]))
    except ApiError as exc:
        return _back(error=api_error_message(exc.body))
    return _back(done="submitted")


@router.post("/reports/submissions/{submission_id}/review")
async def review_page(
    principal: UiPrincipal,
    sources: Sources,
    submission_id: Annotated[str, Path(max_length=64)],
    decision: Annotated[Literal["approve", "return"], Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        body = submissions.SubmissionReview(decision=decision, note=note)
        await submissions.review(principal, sources, submission_id, body, datetime.now(UTC))
    except ApiError as exc:
        if exc.status in (403, 404):  # not the caller's to review: refused as every page refuses it
            raise
        return _back(error=api_error_message(exc.body))
    return _back(done="approved" if decision == "approve" else "returned")

"""The oversight API (CONTRACT.md, Oversight): the dashboard, the township scorecard, upward report
submissions and their review. Township and county officers, auditors and admins; region-scoped."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from safetynet_core.web import CurrentPrincipal
from safetynet_workflow.deps import PolicyDep, adapter
from safetynet_workflow.oversight import dashboard as dashboard_service
from safetynet_workflow.oversight import scorecard as scorecard_service
from safetynet_workflow.oversight import submissions
from safetynet_workflow.oversight.dashboard import DashboardSources
from safetynet_workflow.oversight.models import Dashboard
from safetynet_workflow.oversight.periods import Period
from safetynet_workflow.oversight.store import OversightStore
from safetynet_workflow.oversight.submissions import SubmissionRequest, SubmissionReview
from safetynet_workflow.regions.api import RegionsDep
from safetynet_workflow.reports.store import ReportStore

router = APIRouter(prefix="/v1", tags=["oversight"])
RegionQuery = Annotated[str | None, Query(pattern=r"^\d{1,12}$", description="region code prefix")]
STATUS_PATTERN = "^(submitted|approved|returned)$"


def dashboard_sources(
    oversight: Annotated[OversightStore, Depends(adapter(OversightStore))],
    reports: Annotated[ReportStore, Depends(adapter(ReportStore))],
    regions: RegionsDep,
    policy: PolicyDep,
) -> DashboardSources:
    return DashboardSources(oversight, reports, regions, policy)


Sources = Annotated[DashboardSources, Depends(dashboard_sources)]


@router.get("/dashboard", response_model=Dashboard)
async def dashboard(principal: CurrentPrincipal, sources: Sources, region: RegionQuery = None) -> dict[str, Any]:
    """Per child region: monitored households (with an open case), open cases by step, open and overdue
    tasks, identification-clock breaches and 应纳未纳; the weekly opened/closed trend (policy weeks) and the
    region's `totals` (as `GET /v1/reports/summary` counts them)."""
    return await dashboard_service.dashboard(principal, sources, region, datetime.now(UTC))


@router.get("/reports/scorecard")
async def scorecard(
    principal: CurrentPrincipal,
    sources: Sources,
    region: RegionQuery = None,
    quarter: Annotated[str | None, Query(pattern=r"^\d{4}-Q[1-4]$", description="e.g. 2026-Q4")] = None,
    fmt: Annotated[Literal["json", "csv", "xlsx"], Query(alias="format")] = "json",
) -> Any:
    """The township scorecard (考核) of a quarter (default: the current one), as JSON, CSV or XLSX."""
    card = await scorecard_service.scorecard(principal, sources, region, quarter, datetime.now(UTC))
    return card if fmt == "json" else scorecard_service.scorecard_file(card, fmt)


@router.post("/reports/submissions", status_code=201)
async def submit_report(principal: CurrentPrincipal, sources: Sources, body: SubmissionRequest) -> dict[str, Any]:
    """Freeze a period's summary of a county or township for its parent region (late ones are marked)."""
    return await submissions.submit(principal, sources, body, datetime.now(UTC))


@router.get("/reports/submissions")
async def list_submissions(
    principal: CurrentPrincipal,
    sources: Sources,
    region: RegionQuery = None,
    status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
    period: Annotated[Period | None, Query()] = None,
) -> dict[str, Any]:
    """Submissions under a region, newest first."""
    return {"submissions": await submissions.listing(principal, sources, region, status, period)}


@router.get("/reports/submissions/missing")
async def missing_submissions(
    principal: CurrentPrincipal,
    sources: Sources,
    region: RegionQuery = None,
    period: Period = "week",
    period_start: date | None = None,
) -> dict[str, Any]:
    """The child regions (townships of a county) that have not submitted a period's report (default: this
    week's), and the reports of those that have."""
    return await submissions.missing(principal, sources, region, period, period_start, datetime.now(UTC))


@router.get("/reports/submissions/{submission_id}")
async def get_submission(principal: CurrentPrincipal, sources: Sources, submission_id: str) -> dict[str, Any]:
    """One submission with its frozen summary."""
    row = await submissions.visible_submission(principal, sources, submission_id)
    return submissions.submission_json(row, sources)


@router.post("/reports/submissions/{submission_id}/review")
async def review_report(
    principal: CurrentPrincipal, sources: Sources, submission_id: str, body: SubmissionReview
) -> dict[str, Any]:
    """The parent region's officer approves the report or returns it with a note."""
    return await submissions.review(principal, sources, submission_id, body, datetime.now(UTC))


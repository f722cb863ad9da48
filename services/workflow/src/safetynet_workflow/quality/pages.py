"""Data quality: the registry's data-quality issues live in intake (`GET /v1/data-quality`, scoped by
the caller's JWT); this page asks intake with the logged-in user's own token (`clients/intake.py`), and says
so plainly when intake does not answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from safetynet_core.logging import get_logger
from safetynet_workflow.clients.intake import IntakeClient
from safetynet_workflow.deps import IntakeDep
from safetynet_workflow.ui.records import Cell, Column, listing
from safetynet_workflow.ui.session import UiPrincipal, session_token

router = APIRouter()
log = get_logger(__name__)
AREA = "quality"
# intake's check names (safetynet_intake.quality_api.CheckName)
CHECKS = ("completeness", "format", "cross_field", "duplicate", "warning_review")
READER_ROLES = ("village_cadre", "township_officer", "county_officer", "auditor")
COLUMNS = (
    Column("check", "col.check", Cell.LABEL, "quality_check."),
    Column("household_id", "col.household"),
    Column("finding", "col.finding"),
    Column("status", "col.status", Cell.LABEL, "quality_status."),
    Column("detected_at", "col.detected", Cell.TIME),
)


@dataclass
class QualityList:
    issues: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # catalogue key of why there is no list


def finding_text(issue: dict[str, Any]) -> str:
    """What the check found: its message, else its rule and field (and the other household)."""
    if issue.get("message"):
        return str(issue["message"])
    parts = [issue.get("rule") or "", issue.get("field") or "", issue.get("other_household_id") or ""]
    return " · ".join(p for p in parts if p)


async def fetch_issues(intake: IntakeClient, token: str, check: str | None) -> QualityList:
    """Intake's list for this token (never another scope); an unreachable or refusing intake is an error."""
    answer = await intake.read(token, "/v1/data-quality", {"check": check} if check else None)
    if answer.status == 403:
        return QualityList(error="quality.forbidden")
    if answer.body is None:
        if answer.status is not None:
            log.warning("data_quality_failed", status=answer.status)
        return QualityList(error="quality.unavailable")
    issues = answer.body.get("issues", [])
    return QualityList([{**i, "finding": finding_text(i)} for i in issues])


@router.get("/data-quality")
async def quality_page(
    request: Request,
    principal: UiPrincipal,
    intake: IntakeDep,
    check: Annotated[str | None, Query(pattern="^(" + "|".join(CHECKS) + ")$")] = None,
) -> Response:
    found = await fetch_issues(intake, session_token(request) or "", check)
    return listing(
        request, principal, AREA, COLUMNS, found.issues, id_key="issue_id", filters=CHECKS,
        filter_prefix="quality_check.", filter_param="check", chosen=check, unavailable=found.error,
    )  # fmt: skip

"""Upward reports (逐级上报, CONTRACT.md Oversight): a township (or county) officer freezes a period's summary
of their region; an officer of the parent region approves it or returns it with a note (a returned report is
submitted again). A report submitted after its due time (`workflow.reporting.due_days` calendar days after
the period ends) is marked late. The county sees which townships have not submitted for a period."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from safetynet_core.auth import Principal, Role
from safetynet_core.errors import ApiError
from safetynet_core.web import require_in_scope, require_role
from safetynet_workflow.oversight.dashboard import DASHBOARD_ROLES, DashboardSources
from safetynet_workflow.oversight.periods import Period, is_period_start, midnight, period_end, period_start, today
from safetynet_workflow.reports.service import missed_rule, report_region

SUBMITTING_ROLES = ("township_officer", "county_officer")
REVIEWING_ROLES = ("township_officer", "county_officer")
MISSED_IN_SUMMARY = 200


class SubmissionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: str = Field(pattern=r"^\d{6}(\d{3})?$", description="the county or township reporting")
    period: Period
    period_start: date = Field(description="a Monday, the 1st of a month, or the first day of a quarter")


class SubmissionReview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "return"]
    note: str = Field("", max_length=2000, description="why it is returned (required then)")


def submission_json(row: dict[str, Any], sources: DashboardSources) -> dict[str, Any]:
    out = {
        "submission_id": row["submission_id"],
        "region": row["region_code"],
        "region_name": sources.regions.label(row["region_code"]),
        "period": row["period"],
        "period_start": row["period_start"].isoformat(),
        "period_end": row["period_end"].isoformat(),
        "due_at": row["due_at"].isoformat(),
        "status": row["status"],
        "late": row["late"],
        "submitted_by": row["submitted_by"],
        "submitted_at": row["submitted_at"].isoformat(),
        "reviewed_by": row.get("reviewed_by"),
        "reviewed_at": row["reviewed_at"].isoformat() if row.get("reviewed_at") else None,
        "review_note": row.get("review_note"),
    }
    if "summary" in row:
        out["summary"] = row["summary"]
    return out


def due_at(sources: DashboardSources, period: Period, start: date) -> datetime:
    days = sources.policy.workflow.reporting.due_days[period]
    return midnight(period_end(period, start)) + timedelta(days=days)


async def submit(
    principal: Principal, sources: DashboardSources, body: SubmissionRequest, now: datetime
) -> dict[str, Any]:
    """Freeze the period's summary of the region (its officers; 409 when a live report is already there)."""
    require_role(principal, SUBMITTING_ROLES, "submit reports")
    require_in_scope(principal, body.region, ["body", "region"])
    if not is_period_start(body.period, body.period_start):
        raise ApiError(422, f"{body.period_start} does not start a {body.period}", ["body", "period_start"])
    if body.period_start > today(now):
        raise ApiError(422, "the period has not started yet", ["body", "period_start"])
    end = period_end(body.period, body.period_start)
    start_at = midnight(body.period_start)
    frozen = await sources.reports.summary(
        body.region, start_at, min(midnight(end), now), limit_days=sources.policy.workflow.identification_days,
        missed=missed_rule(sources.policy), missed_limit=MISSED_IN_SUMMARY,
    )  # fmt: skip
    frozen = {"region": body.region, "period": body.period, "since": start_at, "until": min(midnight(end), now),
              **frozen}  # fmt: skip
    due = due_at(sources, body.period, body.period_start)
    row = {
        "submission_id": f"S{uuid.uuid4().hex[:20]}", "region_code": body.region, "period": body.period,
        "period_start": body.period_start, "period_end": end, "due_at": due, "status": "submitted",
        "late": now > due, "summary": json.loads(json.dumps(frozen, default=str)),
        "submitted_by": principal.subject, "submitted_at": now,
    }  # fmt: skip
    if not await sources.oversight.add_submission(row):
        raise ApiError(409, f"{body.region} has already submitted its {body.period} report of {body.period_start}",
                       ["body", "period_start"])  # fmt: skip
    return submission_json(row, sources)


async def visible_submission(principal: Principal, sources: DashboardSources, submission_id: str) -> dict[str, Any]:
    row = await sources.oversight.submission(submission_id)
    if row is None or not principal.can_see(row["region_code"]):
        raise ApiError(404, f"submission {submission_id} not found", ["path", "submission_id"])
    return row


async def review(
    principal: Principal, sources: DashboardSources, submission_id: str, body: SubmissionReview, now: datetime
) -> dict[str, Any]:
    """Approve or return a submission: an officer of a region above the submitting one (or an admin)."""
    require_role(principal, REVIEWING_ROLES, "review reports")
    row = await visible_submission(principal, sources, submission_id)
    if principal.role is not Role.ADMIN and len(principal.region) >= len(row["region_code"]):
        raise ApiError(403, "the parent region's officer reviews this report", ["header", "Authorization"])
    if body.decision == "return" and not body.note.strip():
        raise ApiError(422, "say why the report is returned", ["body", "note"])
    status = "approved" if body.decision == "approve" else "returned"
    changes = {"status": status, "reviewed_by": principal.subject, "reviewed_at": now, "review_note": body.note}
    decided = await sources.oversight.decide_submission(submission_id, changes)
    if decided is None:
        raise ApiError(409, f"submission {submission_id} is {row['status']}", ["path", "submission_id"])
    return submission_json(decided, sources)


async def listing(
    principal: Principal,
    sources: DashboardSources,
    region: str | None,
    status: str | None,
    period: str | None = None,
) -> list[dict[str, Any]]:
    require_role(principal, DASHBOARD_ROLES, "see report submissions")
    rows = await sources.oversight.submissions(report_region(principal, region), status, period)
    return [submission_json(r, sources) for r in rows]


async def missing(
    principal: Principal,
    sources: DashboardSources,
    region: str | None,
    period: Period,
    start: date | None,
    now: datetime,
) -> dict[str, Any]:
    """The child regions (townships of a county) without a live report for a period (default: the current)."""
    require_role(principal, DASHBOARD_ROLES, "see report submissions")
    prefix = report_region(principal, region)
    first = start or period_start(period, today(now))
    if not is_period_start(period, first):
        raise ApiError(422, f"{first} does not start a {period}", ["query", "period_start"])
    live = await sources.oversight.submissions(prefix, None, period, first)
    done = {r["region_code"]: r for r in live if r["status"] != "returned"}
    children = sources.regions.children_of(prefix) if prefix else sources.regions.roots()
    due = due_at(sources, period, first)
    return {
        "region": {"code": prefix, "name": sources.regions.name(prefix) if prefix else ""},
        "period": period,
        "period_start": first.isoformat(),
        "due_at": due.isoformat(),
        "overdue": now > due,
        "missing": [{"code": c.code, "name": c.name} for c in children if c.code not in done],
        "submitted": [submission_json(done[c.code], sources) for c in children if c.code in done],
    }

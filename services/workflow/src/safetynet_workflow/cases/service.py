"""What the case API and the case pages both do: find a case the caller may see, put its page together
(timeline, assessments, steps, tasks, escalations, notifications, coverage gaps) and file objections."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client

from safetynet_core.auth import Principal, Role
from safetynet_core.coverage import county_day
from safetynet_core.errors import ApiError
from safetynet_core.vocabulary import STEP_EVENTS, CaseStatus, CloseReason
from safetynet_core.web import require_role
from safetynet_workflow.cases.models import CloseRequest, ObjectionRequest
from safetynet_workflow.cases.store import CaseStore, case_json
from safetynet_workflow.clients.notify import NotifyClient
from safetynet_workflow.projection.models import TimelineName
from safetynet_workflow.reports.coverage import CoverageStore
from safetynet_workflow.tasks.service import send_update
from safetynet_workflow.tasks.store import task_json


class Objection(BaseModel):
    reason: str = Field(min_length=1, max_length=4000)


class CaseClosure(BaseModel):
    """The county's close action: a natural close or a duplicate (of `duplicate_of`)."""

    model_config = ConfigDict(extra="forbid")

    reason: Literal["natural", "duplicate"]
    note: str = Field("", max_length=4000)
    duplicate_of: str | None = Field(None, min_length=1, max_length=64)


OBJECTION_ROLES = ("village_cadre", "grid_worker", "township_officer", "county_officer")
CLOSING_ROLES = ("county_officer",)
REVEALING_ROLES = ("county_officer",)  # intake's audited reveal of a full ID number (intake decides; the page offers)


def measures_scope(principal: Principal) -> str | None:
    """A department officer reads only the cases in which their department carries out a measure (the
    department whose measures bound the case list and pages); None for everyone else."""
    return principal.department or "" if principal.role is Role.DEPARTMENT_OFFICER else None


async def visible_case(principal: Principal, store: CaseStore, case_id: str) -> dict[str, Any]:
    """The case row; 404 when it does not exist or lies outside the caller's scope (region, and for a
    department officer the cases of their department's measures)."""
    row = await store.get_case(case_id, measures_of=measures_scope(principal))
    if row is None or not principal.can_see(row["region_code"]):
        raise ApiError(404, f"case {case_id} not found", ["path", "case_id"])
    return row


async def case_page(
    principal: Principal, store: CaseStore, notify: NotifyClient, token: str, case_id: str, coverage: CoverageStore
) -> dict[str, Any]:
    """The case with its timeline: events, assessments (with reasons), steps, tasks, escalations,
    notifications (from notify, asked with the caller's token; empty with `notifications_error` set when
    notify does not answer) and, while open, its household's coverage gaps."""
    row = await visible_case(principal, store, case_id)
    detail = await store.case_detail(case_id)
    timeline = detail["timeline"]
    household = row["household_id"]
    return {
        **case_json(row),
        "timeline": timeline,
        "events": [e for e in timeline if e["published"]],
        "assessments": [e["details"] for e in timeline if e["name"] == TimelineName.ASSESSMENT],
        "steps": [e for e in timeline if e["name"] in STEP_EVENTS],
        "tasks": [task_json(t) for t in detail["tasks"]],
        "escalations": detail["escalations"],
        "coverage_gaps": [] if row["status"] == CaseStatus.CLOSED else await coverage.gaps(household, county_day()),
        **await notify.case_notifications(token, case_id),
    }


async def file_objection(
    principal: Principal, store: CaseStore, client: Client, case_id: str, body: Objection
) -> dict[str, str]:
    """An objection during the case's public notice: the case goes back to the home visit."""
    require_role(principal, OBJECTION_ROLES, "file objections")
    row = await visible_case(principal, store, case_id)
    if row["status"] == CaseStatus.CLOSED:
        raise ApiError(409, "the case is closed", ["path", "case_id"])
    request = ObjectionRequest(username=principal.subject, reason=body.reason)
    await send_update(client, row["workflow_id"], "file_objection", request)
    return {"status": "accepted", "case_id": case_id}


async def close_case(
    principal: Principal, store: CaseStore, client: Client, case_id: str, body: CaseClosure
) -> dict[str, str]:
    """Close a case by hand (natural, duplicate): county officers and admins; its open tasks are cancelled
    and the closure recorded in the timeline."""
    require_role(principal, CLOSING_ROLES, "close cases")
    row = await visible_case(principal, store, case_id)
    if row["status"] == CaseStatus.CLOSED:
        raise ApiError(409, "the case is closed", ["path", "case_id"])
    if body.duplicate_of is not None:
        other = await store.get_case(body.duplicate_of)
        if other is None or other["case_id"] == case_id or not principal.can_see(other["region_code"]):
            raise ApiError(422, f"no other case {body.duplicate_of} in your region", ["body", "duplicate_of"])
    request = CloseRequest(
        reason=CloseReason(body.reason), note=body.note, duplicate_of=body.duplicate_of, username=principal.subject
    )
    await send_update(client, row["workflow_id"], "close_case", request)
    return {"status": "closing", "case_id": case_id, "reason": body.reason}

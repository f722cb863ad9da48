"""The case API (CONTRACT.md, Workflow API): case lists and pages, objections during a public notice,
running notices and a case's audit log. Scoped server-side by the caller's region prefix."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from safetynet_core.web import CurrentPrincipal, listing_region
from safetynet_workflow.cases import service
from safetynet_workflow.cases.service import CaseClosure, Objection
from safetynet_workflow.cases.store import CaseStore, case_json
from safetynet_workflow.deps import BearerToken, ClientDep, NotifyDep, adapter
from safetynet_workflow.reports.coverage import CoverageStore

router = APIRouter(prefix="/v1", tags=["cases"])
CaseStoreDep = Annotated[CaseStore, Depends(adapter(CaseStore))]
CoverageDep = Annotated[CoverageStore, Depends(adapter(CoverageStore))]


@router.post("/cases/{case_id}/objections", status_code=202)
async def file_objection(
    case_id: str, body: Objection, principal: CurrentPrincipal, store: CaseStoreDep, client: ClientDep
) -> dict[str, str]:
    """An objection during the case's public notice: the case goes back to the home visit."""
    return await service.file_objection(principal, store, client, case_id, body)


@router.post("/cases/{case_id}/close", status_code=202)
async def close_case(
    case_id: str, body: CaseClosure, principal: CurrentPrincipal, store: CaseStoreDep, client: ClientDep
) -> dict[str, str]:
    """Close a case as `natural` (death of a one-person household, moved away, merged) or `duplicate`
    (county officers and admins): its open tasks are cancelled; the closure is in the timeline."""
    return await service.close_case(principal, store, client, case_id, body)


@router.get("/cases")
async def list_cases(
    principal: CurrentPrincipal,
    store: CaseStoreDep,
    status: str | None = None,
    step: str | None = None,
    region: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Cases inside the caller's scope (a department officer: those of their department's measures)."""
    prefix = listing_region(principal, region)
    rows = await store.list_cases(prefix, status, step, limit, measures_of=service.measures_scope(principal))
    return {"cases": [case_json(r) for r in rows]}


@router.get("/cases/{case_id}")
async def get_case(
    case_id: str,
    principal: CurrentPrincipal,
    store: CaseStoreDep,
    notify: NotifyDep,
    token: BearerToken,
    coverage: CoverageDep,
) -> dict[str, Any]:
    """The case with its timeline: events, assessments (with reasons), steps, tasks, escalations,
    notifications (from notify; empty with `notifications_error` set when notify does not answer) and
    `coverage_gaps` (members not insured, a household with labour and nobody employed; while open)."""
    return await service.case_page(principal, store, notify, token, case_id, coverage)


@router.get("/cases/{case_id}/audit")
async def case_audit(case_id: str, principal: CurrentPrincipal, store: CaseStoreDep) -> dict[str, Any]:
    """Every recorded state change of a case, oldest first: action, actor, case status and step, time."""
    await service.visible_case(principal, store, case_id)
    return {"case_id": case_id, "audit": await store.audit(case_id)}


@router.get("/notices")
async def notices(principal: CurrentPrincipal, store: CaseStoreDep, region: str | None = None) -> dict[str, Any]:
    """Running public notices: case, village, category and end date only (no personal data)."""
    prefix = listing_region(principal, region)
    return {"notices": await store.notices(prefix, datetime.now(UTC))}

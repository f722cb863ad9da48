"""Ledger API (/v1/ledger): findings are entered (audits, reports) or arrive from failed inspections; the
ledger shows each item with its owner task's deadline, overdue flag and escalation level until it is
closed with evidence."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from safetynet_core.web import CurrentPrincipal, RegionFilter, listing_region
from safetynet_workflow.deps import StarterDep, adapter
from safetynet_workflow.ledger import service
from safetynet_workflow.ledger.service import ReportedFinding
from safetynet_workflow.ledger.store import LedgerStore

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
LedgerStoreDep = Annotated[LedgerStore, Depends(adapter(LedgerStore))]


@router.post("", status_code=202)
async def record_finding(body: ReportedFinding, principal: CurrentPrincipal, starter: StarterDep) -> dict[str, Any]:
    """Enter an audit or report finding: a ledger item with a rectification task for its owner."""
    return await service.record_finding(principal, body, starter)


@router.get("")
async def list_ledger(
    principal: CurrentPrincipal,
    store: LedgerStoreDep,
    region: RegionFilter = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    source: Annotated[str | None, Query(pattern="^(inspection|audit|report)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Ledger items in the caller's scope with their owner task: deadline, overdue, escalation level."""
    return {"items": await store.list(listing_region(principal, region), status, source, limit)}


@router.get("/{item_id}")
async def get_ledger_item(item_id: str, principal: CurrentPrincipal, store: LedgerStoreDep) -> dict[str, Any]:
    return await service.ledger_item(principal, store, item_id)

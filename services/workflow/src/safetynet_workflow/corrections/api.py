"""Correction API (/v1/corrections): case workers file corrections of households in their region;
reviewers act on the `correction_review` / `correction_approval` tasks through the task API like any
other task."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from safetynet_core.web import CurrentPrincipal, RegionFilter, listing_region
from safetynet_workflow.corrections import service
from safetynet_workflow.corrections.models import CorrectionRequest, CorrectionStatus
from safetynet_workflow.corrections.store import CorrectionStore
from safetynet_workflow.deps import StarterDep, adapter

router = APIRouter(prefix="/v1/corrections", tags=["corrections"])
CorrectionStoreDep = Annotated[CorrectionStore, Depends(adapter(CorrectionStore))]


@router.post("", status_code=202)
async def file_correction(
    body: CorrectionRequest, principal: CurrentPrincipal, store: CorrectionStoreDep, starter: StarterDep
) -> dict[str, Any]:
    """File a correction of a household in your region; it goes to township review, then county approval."""
    return await service.file(principal, body, store, starter)


@router.get("")
async def list_corrections(
    principal: CurrentPrincipal,
    store: CorrectionStoreDep,
    region: RegionFilter = None,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(s.value for s in CorrectionStatus) + ")$")] = None,
    household_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    prefix = listing_region(principal, region)
    return {"corrections": await store.list(prefix, status, household_id, limit)}


@router.get("/{correction_id}")
async def get_correction(correction_id: str, principal: CurrentPrincipal, store: CorrectionStoreDep) -> dict[str, Any]:
    """One correction with its review and approval tasks."""
    return await service.correction(principal, store, correction_id)

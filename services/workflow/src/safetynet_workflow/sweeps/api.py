"""Sweep API (/v1/sweeps): township and county officers launch sweeps over a region inside their scope;
everyone in scope reads them with their progress."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from safetynet_core.web import CurrentPrincipal, RegionFilter, listing_region
from safetynet_workflow.deps import StarterDep, adapter
from safetynet_workflow.sweeps import service
from safetynet_workflow.sweeps.service import SweepLaunch
from safetynet_workflow.sweeps.store import SweepStore

router = APIRouter(prefix="/v1/sweeps", tags=["sweeps"])
SweepStoreDep = Annotated[SweepStore, Depends(adapter(SweepStore))]


@router.post("", status_code=202)
async def launch_sweep(
    body: SweepLaunch, principal: CurrentPrincipal, store: SweepStoreDep, starter: StarterDep
) -> dict[str, Any]:
    """Launch a sweep: each targeted household gets a `sweep_visit` task for its grid worker."""
    return await service.launch(principal, body, store, starter)


@router.get("")
async def list_sweeps(
    principal: CurrentPrincipal,
    store: SweepStoreDep,
    region: RegionFilter = None,
    status: Annotated[str | None, Query(pattern="^(selecting|running|closed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Sweeps inside the caller's scope, newest first, each with its progress."""
    return {"sweeps": await service.sweeps_in(store, listing_region(principal, region), status, limit)}


@router.get("/{sweep_id}")
async def get_sweep(sweep_id: str, principal: CurrentPrincipal, store: SweepStoreDep) -> dict[str, Any]:
    """One sweep with its progress: visits targeted, visited, due, overdue, escalated, risks reported."""
    return await service.sweep(principal, store, sweep_id)

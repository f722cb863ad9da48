"""`GET /v1/regions?parent=CODE` and `GET /v1/regions/{code}` (CONTRACT.md, Regions): any signed-in user.
The package's dependencies: its store and the directory (fresh) other packages take names from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from safetynet_core.vocabulary import REGION_CODE_PATTERN
from safetynet_core.web import CurrentPrincipal
from safetynet_workflow.deps import adapter
from safetynet_workflow.regions import service
from safetynet_workflow.regions.models import Region
from safetynet_workflow.regions.service import RegionDirectory
from safetynet_workflow.regions.store import RegionStore

router = APIRouter(prefix="/v1", tags=["regions"])
RegionStoreDep = Annotated[RegionStore, Depends(adapter(RegionStore))]


async def fresh_directory(
    directory: Annotated[RegionDirectory, Depends(adapter(RegionDirectory))],
) -> RegionDirectory:
    return await directory.fresh()


RegionsDep = Annotated[RegionDirectory, Depends(fresh_directory)]


@router.get("/regions")
async def list_regions(
    principal: CurrentPrincipal,
    store: RegionStoreDep,
    parent: Annotated[str | None, Query(pattern=REGION_CODE_PATTERN, description="the parent's code")] = None,
) -> list[Region]:
    """The regions directly under `parent` (without it: the top of the directory, usually the counties)."""
    return await service.regions_under(store, parent)


@router.get("/regions/{code}")
async def get_region(
    principal: CurrentPrincipal, store: RegionStoreDep, code: Annotated[str, Path(pattern=REGION_CODE_PATTERN)]
) -> Region:
    return await service.region(store, code)

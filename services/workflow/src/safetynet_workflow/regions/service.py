"""The region directory in memory, where pages, lists, reports, exports and case events take names from:
a county's directory is a few hundred rows, read whole and reloaded every `refresh_seconds` (so a county
loaded with `safetynet regions load` shows its names within that time in every running process)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from safetynet_core.errors import ApiError
from safetynet_workflow.regions.models import Region, RegionFileError, RegionLevel, parse_regions
from safetynet_workflow.regions.store import RegionStore

REFRESH_SECONDS = 30.0


class RegionDirectory:
    """Names of regions by code; an unknown code stands for itself."""

    def __init__(self, store: RegionStore, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._regions: dict[str, Region] = {}
        self._children: dict[str, list[Region]] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def reload(self) -> None:
        rows = await self.store.everything()
        regions = {row["code"]: Region.model_validate(row) for row in rows}
        children: dict[str, list[Region]] = {}
        for region in regions.values():
            if region.parent:
                children.setdefault(region.parent, []).append(region)
        self._regions, self._children, self._loaded_at = regions, children, time.monotonic()

    async def fresh(self) -> RegionDirectory:
        """The directory, reloaded first when it is older than `refresh_seconds`."""
        if self._stale():
            async with self._lock:
                if self._stale():
                    await self.reload()
        return self

    def _stale(self) -> bool:
        return self._loaded_at is None or time.monotonic() - self._loaded_at > self.refresh_seconds

    async def keep_fresh(self) -> None:
        """Reload every `refresh_seconds` (a background loop of the API process)."""
        while True:
            await self.reload()
            await asyncio.sleep(self.refresh_seconds)

    def get(self, code: str) -> Region | None:
        return self._regions.get(code)

    def name(self, code: str) -> str:
        """The region's own name (城关镇), or its code when the directory does not know it."""
        region = self._regions.get(code)
        return region.name if region else code

    def label(self, code: str | None) -> str:
        """How lists name a region: a village with its township (城关镇 东关村), others by their name."""
        if not code:
            return ""
        region = self._regions.get(code)
        if region is None:
            return code
        if region.level is RegionLevel.VILLAGE and region.parent in self._regions:
            return f"{self._regions[region.parent].name} {region.name}"
        return region.name

    def labels(self, codes: Iterable[str | None]) -> dict[str, str]:
        return {code: self.label(code) for code in codes if code}

    async def fresh_labels(self, codes: Iterable[str]) -> dict[str, str]:
        """`labels` of a fresh directory (for the case events' region names)."""
        return (await self.fresh()).labels(codes)

    def children_of(self, code: str) -> list[Region]:
        return sorted(self._children.get(code, []), key=lambda r: r.code)

    def roots(self) -> list[Region]:
        """The regions at the top of the directory (usually the counties)."""
        return sorted(
            (r for r in self._regions.values() if not r.parent or r.parent not in self._regions), key=lambda r: r.code
        )


async def region(store: RegionStore, code: str) -> Region:
    """One region; 404 naming the code when the directory does not have it."""
    row = await store.get(code)
    if row is None:
        raise ApiError(404, f"region {code} is not in the directory", ["path", "code"])
    return Region.model_validate(row)


async def regions_under(store: RegionStore, parent: str | None) -> list[Region]:
    """The children of `parent`, or without one the regions at the top of the directory."""
    rows = await (store.children(parent) if parent else store.roots())
    return [Region.model_validate(row) for row in rows]


async def load_file(store: RegionStore, text: str) -> dict[str, Any]:
    """Load (add or rename) the regions of a `code,name,parent` CSV; RegionFileError names bad lines."""
    regions = parse_regions(text)
    known = {row["code"] for row in await store.everything()} | {r.code for r in regions}
    unknown = [
        {"line": line, "field": "parent", "msg": f"parent {r.parent} is neither in the directory nor in the file"}
        for line, r in enumerate(regions, start=2)  # a file without bad lines keeps its rows in order
        if r.parent and r.level is not RegionLevel.COUNTY and r.parent not in known
    ]
    if unknown:
        raise RegionFileError(unknown)
    loaded = await store.upsert(regions)
    by_level: dict[str, int] = {}
    for r in regions:
        by_level[r.level.value] = by_level.get(r.level.value, 0) + 1
    return {"loaded": loaded, "by_level": by_level}

"""Region directory queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from safetynet_core.db import Database
from safetynet_workflow.regions.models import Region
from safetynet_workflow.tables import regions

_upsert = insert(regions)
UPSERT_REGION = _upsert.on_conflict_do_update(
    index_elements=["code"],
    set_={"name": _upsert.excluded.name, "level": _upsert.excluded.level, "parent": _upsert.excluded.parent,
          "updated_at": func.now()},
)  # fmt: skip
FIELDS = (regions.c.code, regions.c.name, regions.c.level, regions.c.parent)


class RegionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _rows(self, query: Any) -> list[dict[str, Any]]:
        async with self.db.unit_of_work() as uow:
            return [dict(r._mapping) for r in await uow.execute(query)]

    async def get(self, code: str) -> dict[str, Any] | None:
        found = await self._rows(select(*FIELDS).where(regions.c.code == code))
        return found[0] if found else None

    async def children(self, parent: str) -> list[dict[str, Any]]:
        return await self._rows(select(*FIELDS).where(regions.c.parent == parent).order_by(regions.c.code))

    async def roots(self) -> list[dict[str, Any]]:
        """Regions above which the directory knows nothing (the counties, usually)."""
        known = select(regions.c.code)
        query = select(*FIELDS).where(regions.c.parent.is_(None) | regions.c.parent.not_in(known))
        return await self._rows(query.order_by(regions.c.code))

    async def everything(self) -> list[dict[str, Any]]:
        return await self._rows(select(*FIELDS).order_by(regions.c.code))

    async def upsert(self, items: Sequence[Region]) -> int:
        if not items:
            return 0
        async with self.db.unit_of_work() as uow:
            await uow.execute(UPSERT_REGION, [r.model_dump(mode="json") for r in items])
            await uow.commit()
        return len(items)

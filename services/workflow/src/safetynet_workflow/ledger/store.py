"""Ledger rows: items opened and closed by their workflow, listed with their owner task's deadline,
overdue flag and escalation level."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, select, update
from sqlalchemy.dialects.postgresql import insert

from safetynet_core.db import Database
from safetynet_workflow.ledger.models import LedgerClose, LedgerInput
from safetynet_workflow.tables import ledger_items, region_listing, tasks


class LedgerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(self, inp: LedgerInput) -> None:
        row = {
            "item_id": inp.item_id,
            "source": inp.source,
            "source_ref": inp.source_ref,
            "household_id": inp.household_id,
            "region_code": inp.region_code,
            "problem": inp.problem,
            "status": "open",
            "created_by": inp.created_by,
            "created_at": datetime.now(UTC),
        }
        async with self.db.unit_of_work() as uow:
            await uow.execute(insert(ledger_items).values(**row).on_conflict_do_nothing())
            await uow.commit()

    async def close(self, change: LedgerClose) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.execute(
                update(ledger_items)
                .where(ledger_items.c.item_id == change.item_id)
                .values(status="closed", closed_at=change.at, evidence=change.evidence)
            )
            await uow.commit()

    @staticmethod
    def _items() -> Select[Any]:
        owner = tasks.alias("owner")
        return select(
            ledger_items,
            owner.c.task_id,
            owner.c.role.label("owner_role"),
            owner.c.region_code.label("owner_region"),
            owner.c.status.label("task_status"),
            owner.c.assignee,
            owner.c.due_at,
            owner.c.overdue,
            owner.c.escalation_level,
        ).select_from(ledger_items.outerjoin(owner, and_(owner.c.case_id == ledger_items.c.item_id)))

    async def list(self, prefix: str, status: str | None, source: str | None, limit: int) -> list[dict[str, Any]]:
        query = region_listing(self._items(), ledger_items, prefix, limit, status=status, source=source)
        async with self.db.unit_of_work() as uow:
            return [dict(r) for r in (await uow.execute(query)).mappings()]

    async def get(self, item_id: str) -> dict[str, Any] | None:
        async with self.db.unit_of_work() as uow:
            row = (await uow.execute(self._items().where(ledger_items.c.item_id == item_id))).mappings().first()
        return dict(row) if row else None

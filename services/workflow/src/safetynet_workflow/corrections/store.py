"""Correction rows: filing, status changes from the workflow, lists and one correction with its review
and approval tasks; the registry facts a correction is shown against."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from safetynet_core.db import Database
from safetynet_workflow.corrections.models import FINAL, StatusChange
from safetynet_workflow.reports.tables import report_households
from safetynet_workflow.tables import corrections, region_listing, tasks


class CorrectionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def household_region(self, household_id: str) -> str | None:
        query = select(report_households.c.region_code).where(report_households.c.household_id == household_id)
        async with self.db.unit_of_work() as uow:
            result: str | None = (await uow.execute(query)).scalar_one_or_none()
            return result

    async def create(self, row: dict[str, Any]) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.execute(insert(corrections).values(**row))
            await uow.commit()

    async def set_status(self, change: StatusChange) -> None:
        values: dict[str, Any] = {"status": change.status.value, "outcome": change.outcome}
        if change.status in FINAL:
            values["decided_at"] = change.at or datetime.now(UTC)
        async with self.db.unit_of_work() as uow:
            await uow.execute(
                update(corrections).where(corrections.c.correction_id == change.correction_id).values(**values)
            )
            await uow.commit()

    async def list(self, prefix: str, status: str | None, household_id: str | None, limit: int) -> list[dict[str, Any]]:
        query = region_listing(
            select(corrections), corrections, prefix, limit, status=status, household_id=household_id
        )
        async with self.db.unit_of_work() as uow:
            return [dict(r) for r in (await uow.execute(query)).mappings()]

    async def get(self, correction_id: str) -> dict[str, Any] | None:
        async with self.db.unit_of_work() as uow:
            row = (
                (await uow.execute(select(corrections).where(corrections.c.correction_id == correction_id)))
                .mappings()
                .first()
            )
            if row is None:
                return None
            steps = await uow.execute(
                select(
                    tasks.c.task_id,
                    tasks.c.kind,
                    tasks.c.status,
                    tasks.c.role,
                    tasks.c.due_at,
                    tasks.c.completed_by,
                    tasks.c.form,
                )
                .where(tasks.c.case_id == correction_id)
                .order_by(tasks.c.created_at)
            )
            return {**dict(row), "tasks": [dict(t) for t in steps.mappings()]}


    async def registry_facts(self, household_id: str) -> dict[str, Any] | None:
        """The registry facts the workflow keeps of a household (status, income a head, size)."""
        h = report_households.c
        query = select(h.poverty_status, h.income_pc, h.members).where(h.household_id == household_id)
        async with self.db.unit_of_work() as uow:
            row = (await uow.execute(query)).mappings().first()
        return dict(row) if row else None

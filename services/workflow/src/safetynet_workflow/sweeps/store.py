"""Sweep rows, target selection (the policy's target rule over the household directory) and progress
(counted from the task projection)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, true, update

from safetynet_core.db import Database
from safetynet_workflow.projection.models import OPEN_TASK_STATUSES
from safetynet_workflow.reports.tables import report_assessments, report_households
from safetynet_workflow.sweeps.models import BatchRequest, SweepTarget
from safetynet_workflow.tables import region_listing, sweep_targets, sweeps, tasks

SWEEP_FIELDS = ("sweep_id", "kind", "region_code", "title", "target", "status", "targeted", "launched_by",
                "created_at", "closed_at")  # fmt: skip


class SweepStatus:
    SELECTING = "selecting"
    RUNNING = "running"
    CLOSED = "closed"


def _latest_assessment() -> Any:
    return (
        select(report_assessments.c.risk_types, report_assessments.c.warnings)
        .where(report_assessments.c.household_id == report_households.c.household_id)
        .order_by(report_assessments.c.assessed_at.desc())
        .limit(1)
        .lateral("latest")
    )


class SweepStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, row: dict[str, Any]) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.execute(insert(sweeps).values(**row, status=SweepStatus.SELECTING, targeted=0))
            await uow.commit()

    async def household_facts(self, region_code: str) -> list[dict[str, Any]]:
        """What the target rule reads of each household under a region (grid by grid): registry facts and
        the latest assessment's risk types and warnings."""
        latest = _latest_assessment()
        h = report_households.c
        query = (
            select(
                h.household_id,
                h.region_code,
                h.grid_id,
                h.in_school,
                h.no_labour,
                h.income_pc,
                latest.c.risk_types,
                latest.c.warnings,
            )
            .select_from(report_households.outerjoin(latest, true()))
            .where(h.region_code.startswith(region_code, autoescape=True))
            .order_by(h.grid_id.nulls_last(), h.household_id)
        )
        async with self.db.unit_of_work() as uow:
            return [dict(r) for r in (await uow.execute(query)).mappings()]

    async def replace_targets(self, sweep_id: str, targets: list[dict[str, Any]]) -> None:
        """Write the sweep's targets (a retry rewrites them) and mark it running."""
        async with self.db.unit_of_work() as uow:
            await uow.execute(delete(sweep_targets).where(sweep_targets.c.sweep_id == sweep_id))
            if targets:
                await uow.execute(insert(sweep_targets), targets)
            await uow.execute(
                update(sweeps)
                .where(sweeps.c.sweep_id == sweep_id)
                .values(targeted=len(targets), status=SweepStatus.RUNNING)
            )
            await uow.commit()

    async def batch(self, request: BatchRequest) -> list[SweepTarget]:
        t = sweep_targets.c
        query = (
            select(t.household_id, t.region_code, t.grid_id, t.groups)
            .where(t.sweep_id == request.sweep_id, t.batch_no == request.batch_no)
            .order_by(t.household_id)
        )
        async with self.db.unit_of_work() as uow:
            return [SweepTarget(**r) for r in (await uow.execute(query)).mappings()]

    async def close(self, sweep_id: str) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.execute(
                update(sweeps)
                .where(sweeps.c.sweep_id == sweep_id, sweeps.c.status != SweepStatus.CLOSED)
                .values(status=SweepStatus.CLOSED, closed_at=datetime.now(UTC))
            )
            await uow.commit()

    async def list(self, prefix: str, status: str | None, limit: int) -> list[dict[str, Any]]:
        query = region_listing(select(sweeps), sweeps, prefix, limit, status=status)
        async with self.db.unit_of_work() as uow:
            return [dict(r) for r in (await uow.execute(query)).mappings()]

    async def get(self, sweep_id: str) -> dict[str, Any] | None:
        async with self.db.unit_of_work() as uow:
            row = (await uow.execute(select(sweeps).where(sweeps.c.sweep_id == sweep_id))).mappings().first()
        return dict(row) if row else None

    async def progress(self, sweep_id: str, now: datetime) -> dict[str, int]:
        """Visits by state: visited (done), due (open, not yet late), overdue, escalated, risks reported."""
        is_open = tasks.c.status.in_(OPEN_TASK_STATUSES)
        late = and_(is_open, (tasks.c.overdue | (tasks.c.due_at < now)))
        reported = func.jsonb_array_length(tasks.c.form["risk_types"]) > 0
        query = select(
            func.count().label("visits"),
            func.count().filter(tasks.c.status == "done").label("visited"),
            func.count().filter(and_(is_open, ~late)).label("due"),
            func.count().filter(late).label("overdue"),
            func.count().filter(tasks.c.escalation_level > 0).label("escalated"),
            func.count().filter(and_(tasks.c.status == "done", reported)).label("risks_reported"),
        ).where(tasks.c.case_id == sweep_id, tasks.c.kind == "sweep_visit")
        async with self.db.unit_of_work() as uow:
            row = (await uow.execute(query)).mappings().one()
        return {k: int(v) for k, v in row.items()}


def sweep_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in SWEEP_FIELDS}

"""Sweep rows, target selection (the policy's target rule over the household directory) and progress
(counted from the task projection), plus the activities the sweep workflows call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, true, update
from temporalio import activity

from safetynet_core.db import Database
from safetynet_core.policy import cached_policy
from safetynet_core.policy.fieldops import TargetGroup
from safetynet_workflow.cases import monitoring_line
from safetynet_workflow.fieldops_tables import region_listing, sweep_targets, sweeps
from safetynet_workflow.intake_client import IntakeClient
from safetynet_workflow.reports.tables import report_assessments, report_households
from safetynet_workflow.settings import Settings
from safetynet_workflow.sweeps import (
    CLOSE_SWEEP_ACTIVITY,
    LOAD_BATCH_ACTIVITY,
    REPORT_RISK_ACTIVITY,
    SELECT_TARGETS_ACTIVITY,
    BatchRequest,
    RiskReport,
    SweepTarget,
    Targeted,
    TargetRequest,
)
from safetynet_workflow.tables import tasks

SWEEP_FIELDS = ("sweep_id", "kind", "region_code", "title", "target", "status", "targeted", "launched_by",
                "created_at", "closed_at")  # fmt: skip


class SweepStatus:
    SELECTING = "selecting"
    RUNNING = "running"
    CLOSED = "closed"


def matching_groups(facts: dict[str, Any], target: list[TargetGroup], line: float) -> list[str]:
    """The must-visit groups a household belongs to (any condition of a group is enough)."""
    risk_types, warnings = set(facts.get("risk_types") or ()), set(facts.get("warnings") or ())
    income_pc, in_school = facts.get("income_pc"), facts.get("in_school") or 0
    found = []
    for group in target:
        factor, min_school = group.income_pc_within_line_times, group.min_in_school
        if (
            risk_types & set(group.risk_types)
            or warnings & set(group.warnings)
            or (factor is not None and income_pc is not None and income_pc <= line * factor)
            or (min_school is not None and in_school >= min_school)
            or (group.no_labour and bool(facts.get("no_labour")))
        ):
            found.append(group.group)
    return found


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
        async with self.db.engine.begin() as conn:
            await conn.execute(insert(sweeps).values(**row, status=SweepStatus.SELECTING, targeted=0))

    async def select_targets(self, request: TargetRequest, line: float) -> Targeted:
        """Write the sweep's targets in numbered batches (grid by grid); a retry rewrites them."""
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
            .where(h.region_code.startswith(request.region_code, autoescape=True))
            .order_by(h.grid_id.nulls_last(), h.household_id)
        )
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(sweep_targets).where(sweep_targets.c.sweep_id == request.sweep_id))
            rows: list[dict[str, Any]] = []
            for r in (await conn.execute(query)).mappings():
                groups = matching_groups(dict(r), request.target, line)
                if groups:
                    rows.append(
                        {
                            "sweep_id": request.sweep_id,
                            "household_id": r["household_id"],
                            "region_code": r["region_code"],
                            "grid_id": r["grid_id"],
                            "groups": groups,
                            "batch_no": len(rows) // request.batch_size,
                        }
                    )
            if rows:
                await conn.execute(insert(sweep_targets), rows)
            await conn.execute(
                update(sweeps)
                .where(sweeps.c.sweep_id == request.sweep_id)
                .values(targeted=len(rows), status=SweepStatus.RUNNING)
            )
        batches = -(-len(rows) // request.batch_size)
        return Targeted(targeted=len(rows), batches=batches)

    async def batch(self, request: BatchRequest) -> list[SweepTarget]:
        t = sweep_targets.c
        query = (
            select(t.household_id, t.region_code, t.grid_id, t.groups)
            .where(t.sweep_id == request.sweep_id, t.batch_no == request.batch_no)
            .order_by(t.household_id)
        )
        async with self.db.engine.connect() as conn:
            return [SweepTarget(**r) for r in (await conn.execute(query)).mappings()]

    async def close(self, sweep_id: str) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(
                update(sweeps)
                .where(sweeps.c.sweep_id == sweep_id, sweeps.c.status != SweepStatus.CLOSED)
                .values(status=SweepStatus.CLOSED, closed_at=datetime.now(UTC))
            )

    async def list(self, prefix: str, status: str | None, limit: int) -> list[dict[str, Any]]:
        query = region_listing(select(sweeps), sweeps, prefix, limit, status=status)
        async with self.db.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def get(self, sweep_id: str) -> dict[str, Any] | None:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(sweeps).where(sweeps.c.sweep_id == sweep_id))).mappings().first()
        return dict(row) if row else None

    async def progress(self, sweep_id: str, now: datetime) -> dict[str, int]:
        """Visits by state: visited (done), due (open, not yet late), overdue, escalated, risks reported."""
        is_open = tasks.c.status.in_(("open", "claimed"))
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
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().one()
        return {k: int(v) for k, v in row.items()}


def sweep_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in SWEEP_FIELDS}


class SweepActivities:
    """The sweep workflows' activities, bound to the service's adapters."""

    def __init__(self, settings: Settings, store: SweepStore, intake: IntakeClient) -> None:
        self.settings = settings
        self.store = store
        self.intake = intake

    @activity.defn(name=SELECT_TARGETS_ACTIVITY)
    async def select_targets(self, request: TargetRequest) -> Targeted:
        policy = cached_policy(str(self.settings.policy_file))
        return await self.store.select_targets(request, monitoring_line(policy, request.region_code))

    @activity.defn(name=LOAD_BATCH_ACTIVITY)
    async def load_batch(self, request: BatchRequest) -> list[SweepTarget]:
        return await self.store.batch(request)

    @activity.defn(name=REPORT_RISK_ACTIVITY)
    async def report_risk(self, report: RiskReport) -> str:
        """The visit's finding as a grid_report event (event id = task id: a retry is a duplicate)."""
        result = await self.intake.post_event(
            {
                "event_id": report.task_id,
                "type": "grid_report",
                "household_id": report.household_id,
                "occurred_at": report.occurred_at.isoformat(),
                "reference": report.task_id,
                "payload": {"risk_types": report.risk_types, "notes": report.notes},
            }
        )
        return str(result.get("event_id", report.task_id))

    @activity.defn(name=CLOSE_SWEEP_ACTIVITY)
    async def close_sweep(self, sweep_id: str) -> None:
        await self.store.close(sweep_id)

    def all(self) -> list[Any]:
        return [self.select_targets, self.load_batch, self.report_risk, self.close_sweep]

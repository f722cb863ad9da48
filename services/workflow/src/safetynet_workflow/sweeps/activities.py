"""The sweep workflows' activities: target selection, loading a batch, reporting a visit's risk to
intake as a grid_report, closing the sweep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio import activity

from safetynet_core.policy import Policy
from safetynet_workflow.clients.intake import IntakeClient
from safetynet_workflow.sweeps.models import (
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
from safetynet_workflow.sweeps.store import SweepStore
from safetynet_workflow.sweeps.targets import choose_targets


class SweepActivities:
    """The sweep workflows' activities, bound to the service's adapters."""

    def __init__(self, policy: Policy, store: SweepStore, intake: IntakeClient) -> None:
        self.policy = policy
        self.store = store
        self.intake = intake

    @activity.defn(name=SELECT_TARGETS_ACTIVITY)
    async def select_targets(self, request: TargetRequest) -> Targeted:
        """Choose the sweep's targets by the policy's rule and write them in numbered batches."""
        line = self.policy.risk.monitoring_line(request.region_code, datetime.now(UTC).year)
        targets = choose_targets(request, await self.store.household_facts(request.region_code), line)
        await self.store.replace_targets(request.sweep_id, targets)
        return Targeted(targeted=len(targets), batches=-(-len(targets) // request.batch_size))

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

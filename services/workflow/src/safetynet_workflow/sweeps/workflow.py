"""Sweeps (排查) as Temporal workflows: a parent per sweep selects the targeted households (an activity
writes them to `sweep_targets` in numbered batches) and starts one child workflow per batch; each child
hosts its batch's `sweep_visit` tasks (grid worker first, escalation as for case tasks). A sweep over
10,000 households is 50 children of 200 tasks, never one history with 10,000 activities.

A child tells the parent when every visit of its batch is done or escalated; the sweep closes when all
batches have. A visit that reports a risk becomes a `grid_report` through intake (an activity)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from safetynet_workflow.activity_options import call_activity
    from safetynet_workflow.projection.models import RecordRef, TaskState
    from safetynet_workflow.sweeps.models import (
        CLOSE_SWEEP_ACTIVITY,
        LOAD_BATCH_ACTIVITY,
        REPORT_RISK_ACTIVITY,
        SELECT_TARGETS_ACTIVITY,
        SWEEP_BATCH_WORKFLOW,
        SWEEP_STEP,
        SWEEP_WORKFLOW,
        BatchInput,
        BatchRequest,
        RiskReport,
        SweepInput,
        SweepTarget,
        Targeted,
        TargetRequest,
    )
    from safetynet_workflow.tasks.host import TaskHost


@workflow.defn(name=SWEEP_WORKFLOW)
class SweepWorkflow:
    """One sweep: select targets, one child per batch, close when every batch has settled."""

    def __init__(self) -> None:
        self._settled: set[int] = set()

    @workflow.signal
    def batch_settled(self, batch_no: int) -> None:
        self._settled.add(batch_no)

    @workflow.run
    async def run(self, inp: SweepInput) -> Targeted:
        targeted: Targeted = await call_activity(
            SELECT_TARGETS_ACTIVITY,
            TargetRequest(
                sweep_id=inp.sweep_id,
                region_code=inp.region_code,
                target=inp.target,
                batch_size=inp.policy.sweeps.batch_size,
            ),
            result_type=Targeted,
            timeout=timedelta(minutes=5),
        )
        parent_id = workflow.info().workflow_id
        for batch_no in range(targeted.batches):
            try:
                await workflow.start_child_workflow(
                    SweepBatchWorkflow.run,
                    BatchInput(sweep_id=inp.sweep_id, batch_no=batch_no, policy=inp.policy, parent_id=parent_id),
                    id=f"{parent_id}-batch-{batch_no}",
                    task_queue=inp.task_queue or None,
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,  # escalated visits stay open
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )
            except WorkflowAlreadyStartedError:
                continue
        await workflow.wait_condition(lambda: len(self._settled) >= targeted.batches)
        await call_activity(CLOSE_SWEEP_ACTIVITY, inp.sweep_id)
        return targeted


@workflow.defn(name=SWEEP_BATCH_WORKFLOW)
class SweepBatchWorkflow(TaskHost):
    """One batch of a sweep: a `sweep_visit` task per household, watched like any case task."""

    @workflow.init
    def __init__(self, inp: BatchInput) -> None:
        self._init_host(inp.policy, 0)
        self._inp = inp
        self._grids: dict[str, str | None] = {}
        self._current: SweepTarget | None = None

    def _ref(self) -> RecordRef:
        target = self._current
        return RecordRef(
            case_id=self._inp.sweep_id,
            household_id=target.household_id if target else "",
            region_code=target.region_code if target else "",
            step=SWEEP_STEP,
            status="running",
        )

    def _ref_for(self, tasks: list[TaskState] | tuple[TaskState, ...]) -> RecordRef:
        ref = self._ref()
        if tasks:
            ref = ref.model_copy(update={"household_id": tasks[0].household_id, "region_code": tasks[0].base_region})
        return ref

    def _key_prefix(self) -> str:
        return f"{self._inp.sweep_id}:b{self._inp.batch_no}"

    def _grid(self) -> str | None:
        return self._current.grid_id if self._current else None

    def _task_id(self, kind: str) -> str:
        return f"{self._inp.sweep_id}-b{self._inp.batch_no}-{self._task_no}"

    def _settled(self) -> bool:
        """Every visit is done (or cancelled) or has been escalated."""
        return all(not t.is_open or t.escalation_level > 0 for t in self._tasks.values())

    @workflow.run
    async def run(self, inp: BatchInput) -> int:
        targets: list[SweepTarget] = await call_activity(
            LOAD_BATCH_ACTIVITY,
            BatchRequest(sweep_id=inp.sweep_id, batch_no=inp.batch_no),
            result_type=list[SweepTarget],
        )
        settle = asyncio.create_task(self._tell_parent_when_settled(len(targets)))
        visits = await asyncio.gather(*(self._visit(t) for t in targets))
        await settle
        await workflow.wait_condition(workflow.all_handlers_finished)
        return sum(1 for v in visits if v)

    async def _visit(self, target: SweepTarget) -> bool:
        """One household's visit; True when it reported a risk (then posted as a grid_report)."""
        self._current = target  # read synchronously by the task's creation below
        form = await self._run_task(
            "sweep_visit", target.region_code, subject={"sweep_id": self._inp.sweep_id, "groups": target.groups}
        )
        if not form or not form.get("risk_types"):
            return False
        task = next(t for t in self._tasks.values() if t.household_id == target.household_id)
        await call_activity(
            REPORT_RISK_ACTIVITY,
            RiskReport(
                task_id=task.task_id,
                household_id=target.household_id,
                risk_types=form["risk_types"],
                notes=form.get("notes", ""),
                reported_by=task.completed_by or "",
                occurred_at=task.completed_at or workflow.now(),
            ),
        )
        return True

    async def _tell_parent_when_settled(self, expected: int) -> None:
        await workflow.wait_condition(lambda: len(self._tasks) >= expected and self._settled())
        await workflow.get_external_workflow_handle(self._inp.parent_id).signal(
            SweepWorkflow.batch_settled, self._inp.batch_no
        )


SWEEP_WORKFLOWS: list[type] = [SweepWorkflow, SweepBatchWorkflow]

"""Rectification ledger (三单一账): each finding — a failed sampling inspection, an audit, a report —
is a ledger item (problem list) with a `rectification` task for its owner and deadline (task and
responsibility lists); the task escalates like any case task when ignored, and the item closes only
with evidence. One Temporal workflow per item (id from its source, so a finding is never listed twice)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from safetynet_workflow.activity_options import call_activity
    from safetynet_workflow.ledger.models import (
        CLOSE_LEDGER_ACTIVITY,
        LEDGER_ITEM_WORKFLOW,
        LEDGER_STEP,
        OPEN_LEDGER_ACTIVITY,
        LedgerClose,
        LedgerInput,
    )
    from safetynet_workflow.projection.models import RecordRef
    from safetynet_workflow.tasks.host import TaskHost


@workflow.defn(name=LEDGER_ITEM_WORKFLOW)
class LedgerItemWorkflow(TaskHost):
    """Record the item, run its rectification task to completion (with escalations), close it."""

    @workflow.init
    def __init__(self, inp: LedgerInput) -> None:
        self._init_host(inp.policy, 0)
        self._inp = inp

    def _ref(self) -> RecordRef:
        inp = self._inp
        return RecordRef(
            case_id=inp.item_id, household_id=inp.household_id or "", region_code=inp.region_code, step=LEDGER_STEP
        )

    @workflow.run
    async def run(self, inp: LedgerInput) -> str:
        await call_activity(OPEN_LEDGER_ACTIVITY, inp)
        subject = {"item_id": inp.item_id, "source": inp.source, "source_ref": inp.source_ref, "problem": inp.problem}
        form = await self._run_task(inp.policy.ledger.task_kind, inp.region_code, subject=subject)
        if form is None:
            return "cancelled"
        task = next(iter(self._tasks.values()))
        await call_activity(
            CLOSE_LEDGER_ACTIVITY,
            LedgerClose(item_id=inp.item_id, evidence={**form, "by": task.completed_by}, at=workflow.now()),
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return "closed"

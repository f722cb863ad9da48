"""Sampling inspection (抽样检): every `inspection.every_days` the sampler draws a stratified sample of
recently closed cases (reproducible seed + round) and starts one inspection task workflow per sampled
case; an auditor's `fail` reopens the case and enters the finding in the rectification ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from safetynet_core.vocabulary import CaseStatus, Step
    from safetynet_workflow.activity_options import call_activity
    from safetynet_workflow.inspection.models import (
        INSPECTION_SAMPLER_WORKFLOW,
        INSPECTION_TASK_WORKFLOW,
        REOPEN_ACTIVITY,
        SAMPLE_ACTIVITY,
        InspectionInput,
        ReopenRequest,
        SampledCase,
        SampleRequest,
        SamplerInput,
    )
    from safetynet_workflow.projection.models import RecordRef
    from safetynet_workflow.tasks.host import TaskHost


@workflow.defn(name=INSPECTION_TASK_WORKFLOW)
class InspectionTaskWorkflow(TaskHost):
    """One sampled closed case: an `inspection` task for the county auditors; a fail reopens the case."""

    @workflow.init
    def __init__(self, inp: InspectionInput) -> None:
        self._init_host(inp.policy, 0)
        self._inp = inp

    def _ref(self) -> RecordRef:
        inp = self._inp
        return RecordRef(
            case_id=inp.case_id, household_id=inp.household_id, region_code=inp.region_code,
            step=Step.CLOSE.value, status=CaseStatus.CLOSED.value, close_reason=inp.close_reason,
        )  # fmt: skip

    def _key_prefix(self) -> str:
        return f"{self._inp.case_id}:inspection{self._inp.round}"

    @workflow.run
    async def run(self, inp: InspectionInput) -> dict[str, Any] | None:
        form = await self._run_task("inspection", inp.region_code, subject={"close_reason": inp.close_reason})
        if form is not None and form["result"] == "fail":
            task = next(iter(self._tasks.values()))
            await call_activity(
                REOPEN_ACTIVITY,
                ReopenRequest(
                    case_id=inp.case_id,
                    household_id=inp.household_id,
                    region_code=inp.region_code,
                    close_reason=inp.close_reason,
                    findings=form.get("findings", ""),
                    inspection_task_id=task.task_id,
                ),
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return form


@workflow.defn(name=INSPECTION_SAMPLER_WORKFLOW)
class InspectionSamplerWorkflow:
    """Every `inspection.every_days`: draw the stratified sample (seed + round) and raise inspection tasks."""

    @workflow.run
    async def run(self, inp: SamplerInput) -> None:
        sample: list[SampledCase] = await call_activity(
            SAMPLE_ACTIVITY,
            SampleRequest(policy=inp.policy, round=inp.round, now=workflow.now()),
            result_type=list[SampledCase],
        )
        for case in sample:
            try:
                await workflow.start_child_workflow(
                    InspectionTaskWorkflow.run,
                    InspectionInput(round=inp.round, policy=inp.policy, **case.model_dump()),
                    id=f"inspection-{case.case_id}-{inp.round}",
                    task_queue=inp.task_queue or None,
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )
            except WorkflowAlreadyStartedError:  # raised already by an earlier attempt of this round
                continue
        await workflow.sleep(timedelta(seconds=inp.policy.days(inp.policy.inspection.every_days)))
        workflow.continue_as_new(inp.model_copy(update={"round": inp.round + 1}))

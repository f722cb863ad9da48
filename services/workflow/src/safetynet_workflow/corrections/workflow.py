"""Registry corrections (信息更正纠错): a case worker files a correction of one registry field with
evidence; a township review and a county approval (human tasks, escalating like case tasks) decide it;
an approved correction is applied through intake (`PATCH /v1/households/{id}`), which re-publishes the
record so risk re-scores the household. One Temporal workflow per correction."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from safetynet_workflow.activity_options import call_activity
    from safetynet_workflow.corrections.models import (
        APPLY_CORRECTION_ACTIVITY,
        CORRECTION_STATUS_ACTIVITY,
        CORRECTION_STEP,
        CORRECTION_WORKFLOW,
        ApplyRequest,
        CorrectionInput,
        CorrectionStatus,
        StatusChange,
    )
    from safetynet_workflow.projection.models import RecordRef
    from safetynet_workflow.tasks.host import TaskHost


@workflow.defn(name=CORRECTION_WORKFLOW)
class CorrectionWorkflow(TaskHost):
    """Township review → county approval → applied through intake (or rejected, with the reason)."""

    @workflow.init
    def __init__(self, inp: CorrectionInput) -> None:
        self._init_host(inp.policy, 0)
        self._inp = inp

    def _ref(self) -> RecordRef:
        inp = self._inp
        return RecordRef(
            case_id=inp.correction_id, household_id=inp.household_id, region_code=inp.region_code, step=CORRECTION_STEP
        )

    @workflow.run
    async def run(self, inp: CorrectionInput) -> str:
        next_status = {"correction_review": CorrectionStatus.AWAITING_APPROVAL}
        subject = {"correction_id": inp.correction_id, "patch": inp.patch}
        for kind in ("correction_review", "correction_approval"):
            form = await self._run_task(kind, inp.region_code, subject=subject)
            if form is None or form["decision"] == "reject":
                reason = (form or {}).get("reason")
                return await self._settle(CorrectionStatus.REJECTED, {"rejected_by": kind, "reason": reason})
            if kind in next_status:
                await self._settle(next_status[kind], {})
        result: dict[str, Any] = await call_activity(
            APPLY_CORRECTION_ACTIVITY,
            ApplyRequest(correction_id=inp.correction_id, household_id=inp.household_id, patch=inp.patch),
        )
        status = CorrectionStatus.APPLIED if result.get("ok") else CorrectionStatus.FAILED
        return await self._settle(status, result)

    async def _settle(self, status: CorrectionStatus, outcome: dict[str, Any]) -> str:
        await call_activity(
            CORRECTION_STATUS_ACTIVITY,
            StatusChange(correction_id=self._inp.correction_id, status=status, outcome=outcome, at=workflow.now()),
        )
        return status.value

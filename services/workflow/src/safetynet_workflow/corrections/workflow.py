"""Registry corrections (信息更正纠错): a case worker files a correction of one registry field with
evidence; a township review and a county approval (human tasks, escalating like case tasks) decide it;
an approved correction is applied through intake (`PATCH /v1/households/{id}`), which re-publishes the
record so risk re-scores the household. One Temporal workflow per correction."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from safetynet_workflow.activity_options import ACTIVITY_RETRY, ACTIVITY_TIMEOUT
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
    from safetynet_workflow.tasks.host import TaskHost

@workflow.defn(name=CORRECTION_WORKFLOW)
class CorrectionWorkflow(TaskHost):
    """Township review → county approval → applied through intake (or rejected, with the reason)."""

    @workflow.init
    def __init__(self, inp: CorrectionInput) -> None:
        self._init_host(inp.policy, 0)
        self._inp = inp

    def _ref(self) -> dict[str, Any]:
        return {
            "case_id": self._inp.correction_id,
            "household_id": self._inp.household_id,
            "region_code": self._inp.region_code,
            "step": CORRECTION_STEP,
            "status": "open",
            "close_reason": None,
        }

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
        result: dict[str, Any] = await workflow.execute_activity(
            APPLY_CORRECTION_ACTIVITY,
            ApplyRequest(correction_id=inp.correction_id, household_id=inp.household_id, patch=inp.patch),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        status = CorrectionStatus.APPLIED if result.get("ok") else CorrectionStatus.FAILED
        return await self._settle(status, result)

    async def _settle(self, status: CorrectionStatus, outcome: dict[str, Any]) -> str:
        await workflow.execute_activity(
            CORRECTION_STATUS_ACTIVITY,
            StatusChange(correction_id=self._inp.correction_id, status=status, outcome=outcome, at=workflow.now()),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        return status.value

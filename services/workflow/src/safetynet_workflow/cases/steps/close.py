"""Step 5, close: the case closes with its reason; its open tasks are cancelled and its records stay.
(Sampling inspection of closed cases is `inspection/`.)"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from safetynet_core.vocabulary import CaseEventName, CaseStatus, CloseReason, Step
    from safetynet_workflow.cases.base import CaseBase


class CloseStep(CaseBase):
    async def _close(self, reason: CloseReason, details: dict[str, Any]) -> None:
        cancelled = self._cancel_open_tasks()
        case = self._case
        now = workflow.now()
        entry = self._entry(
            CaseEventName.CASE_CLOSED,
            details={
                **details,
                "from": case.step.value,
                "seconds_in_step": (now - case.step_since).total_seconds(),
            },
        )
        case.status, case.step, case.close_reason = CaseStatus.CLOSED, Step.CLOSE, reason.value
        case.closed_at = case.step_since = now
        case.notice_until = None
        self._upsert_search_attributes()
        await self._emit(entry, tasks=cancelled)

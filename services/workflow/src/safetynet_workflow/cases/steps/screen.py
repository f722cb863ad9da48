"""Step 1, screen (全面查): the village's `screen` task decides to proceed or dismiss (with a reason)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from safetynet_core.vocabulary import CloseReason
    from safetynet_workflow.cases.base import CaseBase


class ScreenStep(CaseBase):
    async def _screen(self) -> tuple[CloseReason, dict[str, Any]] | None:
        """The screen task; a dismissal (or a cancelled task) closes the case and stops the clock."""
        form = await self._run_task("screen", self._case.region_code)
        if form is None or form["decision"] == "dismiss":
            await self._identified()
            return CloseReason.DISMISSED, {"reason": (form or {}).get("reason")}
        return None

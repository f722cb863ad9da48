"""The correction workflow's activities: apply an approved correction through intake, record status."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from safetynet_workflow.clients.intake import IntakeClient, IntakeRejected
from safetynet_workflow.corrections.models import (
    APPLY_CORRECTION_ACTIVITY,
    CORRECTION_STATUS_ACTIVITY,
    ApplyRequest,
    StatusChange,
)
from safetynet_workflow.corrections.store import CorrectionStore


class CorrectionActivities:
    def __init__(self, store: CorrectionStore, intake: IntakeClient) -> None:
        self.store = store
        self.intake = intake

    @activity.defn(name=APPLY_CORRECTION_ACTIVITY)
    async def apply(self, request: ApplyRequest) -> dict[str, Any]:
        """PATCH the registry through intake; a refusal (4xx) is an outcome, not a retry."""
        try:
            result = await self.intake.correct_household(
                request.household_id, {**request.patch, "reference": request.correction_id}
            )
        except IntakeRejected as exc:
            return {"ok": False, "error": exc.message, "details": list(exc.details)}
        return {"ok": True, "intake_status": result.get("status")}

    @activity.defn(name=CORRECTION_STATUS_ACTIVITY)
    async def set_status(self, change: StatusChange) -> None:
        await self.store.set_status(change)

    def all(self) -> list[Any]:
        return [self.apply, self.set_status]

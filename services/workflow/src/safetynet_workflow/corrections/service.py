"""Filing and reading registry corrections (the correction API and pages both call these)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from safetynet_core.auth import Principal
from safetynet_core.errors import ApiError
from safetynet_core.web import require_role
from safetynet_workflow.corrections.models import (
    CORRECTION_WORKFLOW,
    CorrectionField,
    CorrectionInput,
    CorrectionRequest,
    CorrectionStatus,
)
from safetynet_workflow.corrections.store import CorrectionStore
from safetynet_workflow.starter import Starter

FILER_ROLES = ["grid_worker", "village_cadre", "township_officer", "county_officer"]


async def file(
    principal: Principal, body: CorrectionRequest, store: CorrectionStore, starter: Starter
) -> dict[str, Any]:
    """File a correction of a household in the caller's region; it goes to township review, then county
    approval (one workflow per correction)."""
    require_role(principal, FILER_ROLES, "file corrections")
    region = await store.household_region(body.household_id)
    if region is None or not principal.can_see(region):
        raise ApiError(404, f"no registered household {body.household_id} in your region", ["body", "household_id"])
    correction_id = f"R{uuid.uuid4().hex[:20]}"
    row = {
        "correction_id": correction_id,
        "household_id": body.household_id,
        "region_code": region,
        "field": body.field.value,
        "member_id": body.member_id,
        "value": body.value,
        "reason": body.reason,
        "evidence": [e.model_dump() for e in body.evidence],
        "status": CorrectionStatus.UNDER_REVIEW.value,
        "filed_by": principal.subject,
        "created_at": datetime.now(UTC),
    }
    await store.create(row)
    await starter.start(
        CORRECTION_WORKFLOW,
        CorrectionInput(
            correction_id=correction_id,
            household_id=body.household_id,
            region_code=region,
            patch=body.patch(),
            policy=starter.policy.workflow,
        ),
        workflow_id=f"correction-{correction_id}",
    )
    return {**row, "outcome": {}, "decided_at": None}


async def correction(principal: Principal, store: CorrectionStore, correction_id: str) -> dict[str, Any]:
    """One correction with its review and approval tasks; 404 outside the caller's scope."""
    row = await store.get(correction_id)
    if row is None or not principal.can_see(row["region_code"]):
        raise ApiError(404, f"correction {correction_id} not found", ["path", "correction_id"])
    return row


async def registry_value(store: CorrectionStore, household_id: str, field: str) -> Any:
    """The field's value in the registry facts the workflow keeps (status, income); None for the rest."""
    facts = await store.registry_facts(household_id)
    if facts is None:
        return None
    if field == CorrectionField.POVERTY_STATUS:
        return facts["poverty_status"]
    if field == CorrectionField.ANNUAL_NET_INCOME_CNY and facts["income_pc"] is not None and facts["members"]:
        return round(facts["income_pc"] * facts["members"])
    return None

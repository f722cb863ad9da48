"""Entering findings in the rectification ledger (the ledger API, its pages and failed inspections all
come here): one ledger item workflow per finding, its id from the finding's source."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio.exceptions import WorkflowAlreadyStartedError

from safetynet_core.auth import Principal
from safetynet_core.errors import ApiError
from safetynet_core.vocabulary import REGION_CODE_PATTERN
from safetynet_core.web import require_in_scope, require_role
from safetynet_workflow.ledger.models import LEDGER_ITEM_WORKFLOW, LedgerInput, ledger_workflow_id
from safetynet_workflow.ledger.store import LedgerStore
from safetynet_workflow.starter import Starter

RECORDER_ROLES = ["auditor", "county_officer", "township_officer"]


class ReportedFinding(BaseModel):
    """A problem found by an audit or reported; inspection findings arrive on their own."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["audit", "report"]
    source_ref: str = Field(min_length=1, max_length=150, description="the audit or report's own reference")
    region_code: str = Field(pattern=REGION_CODE_PATTERN)
    problem: str = Field(min_length=1, max_length=4000)
    household_id: str | None = Field(None, min_length=1, max_length=64)


async def record_finding(principal: Principal, body: ReportedFinding, starter: Starter) -> dict[str, Any]:
    """Enter an audit or report finding: a ledger item with a rectification task for its owner."""
    require_role(principal, RECORDER_ROLES, "record findings")
    require_in_scope(principal, body.region_code, ["body", "region_code"])
    item_id = f"L{uuid.uuid4().hex[:20]}"
    try:
        await starter.start(
            LEDGER_ITEM_WORKFLOW,
            LedgerInput(
                item_id=item_id, created_by=principal.subject, policy=starter.policy.workflow, **body.model_dump()
            ),
            workflow_id=ledger_workflow_id(body.source, body.source_ref),
        )
    except WorkflowAlreadyStartedError as exc:
        raise ApiError(
            409, f"{body.source} {body.source_ref} is already in the ledger", ["body", "source_ref"]
        ) from exc
    return {"item_id": item_id, "status": "open", **body.model_dump()}


async def record_inspection_finding(
    starter: Starter,
    *,
    inspection_task_id: str,
    region_code: str,
    household_id: str,
    findings: str,
) -> None:
    """A failed sampling inspection is a finding: a ledger item owned per policy (once per inspection)."""
    if not starter.policy.workflow.ledger.from_failed_inspections:
        return
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await starter.start(
            LEDGER_ITEM_WORKFLOW,
            LedgerInput(
                item_id=f"L{inspection_task_id}"[:64],
                source="inspection",
                source_ref=inspection_task_id,
                region_code=region_code,
                household_id=household_id,
                problem=findings or "sampling inspection failed",
                policy=starter.policy.workflow,
            ),
            workflow_id=ledger_workflow_id("inspection", inspection_task_id),
        )


async def ledger_item(principal: Principal, store: LedgerStore, item_id: str) -> dict[str, Any]:
    """One item with its owner task; 404 outside the caller's scope."""
    item = await store.get(item_id)
    if item is None or not principal.can_see(item["region_code"]):
        raise ApiError(404, f"ledger item {item_id} not found", ["path", "item_id"])
    return item

"""What the ledger item workflow takes and hands its activities. Pure data: safe inside the sandbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from safetynet_core.policy.workflow import WorkflowPolicy

LEDGER_ITEM_WORKFLOW = "LedgerItemWorkflow"
OPEN_LEDGER_ACTIVITY = "open_ledger_item"
CLOSE_LEDGER_ACTIVITY = "close_ledger_item"
LEDGER_STEP = "rectification"


class LedgerInput(BaseModel):
    """A finding (inspection, audit, report) to rectify: one ledger item with an owner task."""

    item_id: str
    source: str
    source_ref: str
    region_code: str
    problem: str
    household_id: str | None = None
    created_by: str = "system"
    policy: WorkflowPolicy


def ledger_workflow_id(source: str, source_ref: str) -> str:
    """One ledger item per finding: starting it twice is refused by Temporal."""
    return f"ledger-{source}-{source_ref}"


class LedgerClose(BaseModel):
    item_id: str
    evidence: dict[str, Any]
    at: datetime

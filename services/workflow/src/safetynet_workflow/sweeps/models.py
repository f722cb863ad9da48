"""What the sweep workflows take and hand their activities. Pure data: safe inside the sandbox."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from safetynet_core.policy.fieldops import SweepKind, TargetGroup
from safetynet_core.policy.workflow import WorkflowPolicy

SWEEP_WORKFLOW = "SweepWorkflow"
SWEEP_BATCH_WORKFLOW = "SweepBatchWorkflow"
SELECT_TARGETS_ACTIVITY = "select_sweep_targets"
LOAD_BATCH_ACTIVITY = "load_sweep_batch"
REPORT_RISK_ACTIVITY = "report_sweep_risk"
CLOSE_SWEEP_ACTIVITY = "close_sweep"
SWEEP_STEP = "sweep"


def sweep_workflow_id(sweep_id: str) -> str:
    return f"sweep-{sweep_id}"


class SweepInput(BaseModel):
    sweep_id: str
    kind: SweepKind
    region_code: str
    target: list[TargetGroup]
    policy: WorkflowPolicy
    task_queue: str = ""


class TargetRequest(BaseModel):
    sweep_id: str
    region_code: str
    target: list[TargetGroup]
    batch_size: int


class Targeted(BaseModel):
    targeted: int
    batches: int


class BatchRequest(BaseModel):
    sweep_id: str
    batch_no: int


class SweepTarget(BaseModel):
    household_id: str
    region_code: str
    grid_id: str | None = None
    groups: list[str] = []


class BatchInput(BaseModel):
    sweep_id: str
    batch_no: int
    policy: WorkflowPolicy
    parent_id: str


class RiskReport(BaseModel):
    """A visit that found a risk: posted to intake as a grid_report (event id = task id, idempotent)."""

    task_id: str
    household_id: str
    risk_types: list[str]
    notes: str = ""
    reported_by: str
    occurred_at: datetime

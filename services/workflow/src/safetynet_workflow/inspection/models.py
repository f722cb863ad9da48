"""The sampling inspection's inputs: the sampler's rounds, the sampled closed cases and the reopening a
failed inspection asks for. Pure data: safe inside the sandbox."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from safetynet_core.policy.workflow import WorkflowPolicy

INSPECTION_TASK_WORKFLOW = "InspectionTaskWorkflow"
INSPECTION_SAMPLER_WORKFLOW = "InspectionSamplerWorkflow"
REOPEN_ACTIVITY = "reopen_case"
SAMPLE_ACTIVITY = "sample_closed_cases"


class ReopenRequest(BaseModel):
    """A failed inspection asks for the household's case to be reopened."""

    case_id: str
    household_id: str
    region_code: str
    close_reason: str
    findings: str = ""
    inspection_task_id: str


class InspectionInput(BaseModel):
    """One sampled closed case and the auditor task raised for it."""

    case_id: str
    household_id: str
    region_code: str
    close_reason: str
    round: int
    policy: WorkflowPolicy


class SampledCase(BaseModel):
    case_id: str
    household_id: str
    region_code: str
    close_reason: str


class SampleRequest(BaseModel):
    policy: WorkflowPolicy
    round: int
    now: datetime


class SamplerInput(BaseModel):
    policy: WorkflowPolicy
    round: int = 0
    task_queue: str = ""

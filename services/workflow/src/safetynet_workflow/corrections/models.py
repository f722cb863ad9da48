"""Registry corrections (信息更正纠错): what a case worker files (one field, the value, why, and proof), what
the correction workflow takes and hands its activities. Pure data: safe inside the sandbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from safetynet_core.policy.workflow import WorkflowPolicy

CORRECTION_WORKFLOW = "CorrectionWorkflow"
APPLY_CORRECTION_ACTIVITY = "apply_correction"
CORRECTION_STATUS_ACTIVITY = "set_correction_status"
CORRECTION_STEP = "correction"


class CorrectionStatus(StrEnum):
    UNDER_REVIEW = "under_review"
    AWAITING_APPROVAL = "awaiting_approval"
    REJECTED = "rejected"
    APPLIED = "applied"
    FAILED = "failed"


FINAL = frozenset({CorrectionStatus.REJECTED, CorrectionStatus.APPLIED, CorrectionStatus.FAILED})


class CorrectionField(StrEnum):
    POVERTY_STATUS = "poverty_status"
    ANNUAL_NET_INCOME_CNY = "annual_net_income_cny"
    HEAD_MEMBER_ID = "head_member_id"
    PHONE = "phone"
    MEMBER_NAME = "member.name"
    MEMBER_BIRTH_DATE = "member.birth_date"
    MEMBER_LABOUR_CAPACITY = "member.labour_capacity"
    MEMBER_IN_SCHOOL = "member.in_school"


VALUE_CHECKS: dict[CorrectionField, tuple[type | tuple[type, ...], tuple[Any, ...]]] = {
    CorrectionField.POVERTY_STATUS: (str, ("lifted", "general")),
    CorrectionField.ANNUAL_NET_INCOME_CNY: ((int, float), ()),
    CorrectionField.HEAD_MEMBER_ID: (str, ()),
    CorrectionField.PHONE: (str, ()),
    CorrectionField.MEMBER_NAME: (str, ()),
    CorrectionField.MEMBER_BIRTH_DATE: (str, ()),
    CorrectionField.MEMBER_LABOUR_CAPACITY: (str, ("full", "partial", "none")),
    CorrectionField.MEMBER_IN_SCHOOL: (bool, ()),
}


class CorrectionEvidence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=60, description="e.g. certificate, photo, department_record")
    reference: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)


class CorrectionRequest(BaseModel):
    """What a case worker files: one field (a member's field names the member), the value, why, and proof."""

    model_config = ConfigDict(extra="forbid")

    household_id: str = Field(min_length=1, max_length=64)
    field: CorrectionField
    member_id: str | None = Field(None, min_length=1, max_length=100)
    value: str | float | bool
    reason: str = Field(min_length=1, max_length=4000)
    evidence: list[CorrectionEvidence] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _value_fits_field(self) -> CorrectionRequest:
        types, allowed = VALUE_CHECKS[self.field]
        if (isinstance(self.value, bool) and types is not bool) or not isinstance(self.value, types):
            raise ValueError(f"value has the wrong type for {self.field.value}")
        if allowed and self.value not in allowed:
            raise ValueError(f"value must be one of {', '.join(map(str, allowed))}")
        if self.field.value.startswith("member.") and self.member_id is None:
            raise ValueError("a member's field needs member_id")
        if isinstance(self.value, float | int) and not isinstance(self.value, bool) and not 0 <= self.value <= 1e9:
            raise ValueError("value must be between 0 and 1e9")
        return self

    def patch(self) -> dict[str, Any]:
        """The intake PATCH body applying this correction."""
        if self.field.value.startswith("member."):
            return {"members": [{"member_id": self.member_id, self.field.value.split(".", 1)[1]: self.value}]}
        return {self.field.value: self.value}


class CorrectionInput(BaseModel):
    correction_id: str
    household_id: str
    region_code: str
    patch: dict[str, Any]
    policy: WorkflowPolicy


class StatusChange(BaseModel):
    correction_id: str
    status: CorrectionStatus
    outcome: dict[str, Any] = {}
    at: datetime | None = None


class ApplyRequest(BaseModel):
    correction_id: str
    household_id: str
    patch: dict[str, Any]

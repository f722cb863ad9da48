"""Opening cases: a flagged assessment becomes evidence of the household's one open case, via
signal-with-start on the workflow id derived from the household (never a second open case).

When the household's last case is closed, the same call starts a new run: a new case (documented
choice; the closed case's records stay). Duplicates of an assessment are dropped inside the workflow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from safetynet_core.contracts import PoisonRecord, RiskAssessmentMessage, from_timestamp
from safetynet_core.policy import Policy
from safetynet_core.vocabulary import STATUS_OF_STEP, Step
from safetynet_workflow.cases.models import (
    CASE_STATUS,
    CASE_STEP,
    CASE_WORKFLOW,
    HOUSEHOLD_ID,
    REGION_CODE,
    CaseInput,
    Evidence,
    HouseholdFacts,
    Reason,
    case_workflow_id,
)


def evidence_from(message: RiskAssessmentMessage) -> Evidence:
    """The case's evidence from an assessment; PoisonRecord when it has no household, region or id."""
    if not message.household_id or len(message.region_code) != 12 or not message.region_code.isdigit():
        raise PoisonRecord("invalid", "assessment needs a household_id and a 12-digit region_code")
    if not message.assessment_id:
        raise PoisonRecord("invalid", "assessment needs an assessment_id")
    assessed_at = from_timestamp(message.assessed_at) if message.HasField("assessed_at") else datetime.now(UTC)
    return Evidence(
        assessment_id=message.assessment_id,
        household_id=message.household_id,
        region_code=message.region_code,
        category=message.category,
        level=message.level,
        score=message.score,
        risk_types=list(message.risk_types),
        warnings=list(message.warnings),
        policy_version=message.policy_version,
        event_ids=list(message.event_ids),
        reasons=[
            Reason(rule=r.rule, points=r.points, reason_zh=r.reason_zh, reason_en=r.reason_en) for r in message.reasons
        ],
        assessed_at=assessed_at,
        income_pc=message.income_pc,
    )


def case_input(
    policy: Policy, household_id: str, region_code: str, evidence: list[Evidence], **extra: Any
) -> CaseInput:
    """A case's input: the workflow section and version of the policy in force right now."""
    return CaseInput(
        household_id=household_id,
        region_code=region_code,
        policy=policy.workflow,
        policy_version=policy.version,
        monitoring_line_cny=policy.risk.monitoring_line(region_code, datetime.now(UTC).year),
        evidence=evidence,
        first_lead_at=min((e.assessed_at for e in evidence), default=None),
        **extra,
    )


def search_attributes(inp: CaseInput, enabled: bool) -> TypedSearchAttributes | None:
    if not enabled:
        return None
    step = inp.resume_step or Step.SCREEN
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(HOUSEHOLD_ID, inp.household_id),
        SearchAttributePair(REGION_CODE, inp.region_code),
        SearchAttributePair(CASE_STEP, str(step)),
        SearchAttributePair(CASE_STATUS, STATUS_OF_STEP[step].value),
    ]
    return TypedSearchAttributes(pairs)


async def open_case(
    client: Client,
    policy: Policy,
    evidence: Evidence,
    *,
    task_queue: str,
    use_search_attributes: bool = True,
    household: HouseholdFacts | None = None,
) -> WorkflowHandle[Any, Any]:
    """Signal-with-start the household's case: joins the open case or starts one (with the registry's facts
    about the household, when the household directory has them)."""
    inp = case_input(
        policy,
        evidence.household_id,
        evidence.region_code,
        [evidence],
        search_attributes=use_search_attributes,
        household=household,
    )
    return await client.start_workflow(
        CASE_WORKFLOW,
        inp,
        id=case_workflow_id(evidence.household_id),
        task_queue=task_queue,
        start_signal="add_evidence",
        start_signal_args=[evidence],
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=search_attributes(inp, use_search_attributes),
    )

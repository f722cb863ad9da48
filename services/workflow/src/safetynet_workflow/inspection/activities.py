"""The inspection workflows' activities: draw the sample of recently closed cases, and reopen a case whose
inspection failed (its finding also goes to the rectification ledger)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from safetynet_core.logging import get_logger
from safetynet_core.vocabulary import Step
from safetynet_workflow.cases.models import CASE_WORKFLOW, HouseholdFacts, case_workflow_id
from safetynet_workflow.cases.opening import case_input, search_attributes
from safetynet_workflow.cases.store import CaseStore
from safetynet_workflow.inspection.models import (
    REOPEN_ACTIVITY,
    SAMPLE_ACTIVITY,
    ReopenRequest,
    SampledCase,
    SampleRequest,
)
from safetynet_workflow.inspection.sampling import stratified_sample
from safetynet_workflow.ledger.service import record_inspection_finding
from safetynet_workflow.settings import Settings
from safetynet_workflow.starter import Starter

log = get_logger(__name__)


class InspectionActivities:
    def __init__(self, settings: Settings, starter: Starter, store: CaseStore) -> None:
        self.settings = settings
        self.starter = starter
        self.store = store

    @activity.defn(name=REOPEN_ACTIVITY)
    async def reopen_case(self, request: ReopenRequest) -> str:
        """Start a new run of the household's case under the same case id (a failed inspection), and
        put the finding in the rectification ledger."""
        await record_inspection_finding(
            self.starter,
            inspection_task_id=request.inspection_task_id,
            region_code=request.region_code,
            household_id=request.household_id,
            findings=request.findings,
        )
        facts = await self.store.reopen_facts(request.case_id)
        if facts is None:
            return "unknown case"
        resume = Step.EVALUATE if request.close_reason == "risk_eliminated" else Step.VERIFY
        inp = case_input(
            self.starter.policy,
            request.household_id,
            request.region_code,
            [],
            case_id=request.case_id,
            resume_step=resume,
            seq_start=facts["version"] + 1,
            measures_in_place=facts["measures"],
            has_labour=facts["labour"],
            household=HouseholdFacts.of(request.household_id, {**facts, "members": facts["household_size"]}),
            responsible=facts["responsible"],
            opened_at=facts["opened_at"],
            search_attributes=self.settings.temporal_search_attributes,
        )
        try:
            await self.starter.start(
                CASE_WORKFLOW,
                inp,
                workflow_id=case_workflow_id(request.household_id),
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                search_attributes=search_attributes(inp, self.settings.temporal_search_attributes),
            )
        except WorkflowAlreadyStartedError:
            log.warning("reopen_skipped_case_open", case_id=request.case_id)
            return "a case is already open for the household"
        return "reopened"

    @activity.defn(name=SAMPLE_ACTIVITY)
    async def sample_closed_cases(self, request: SampleRequest) -> list[SampledCase]:
        rules = request.policy.inspection
        window = timedelta(seconds=request.policy.days(rules.closed_within_days))
        closed = await self.store.recently_closed(request.now - window)
        return stratified_sample([SampledCase(**row) for row in closed], rules, rules.seed + request.round)

    def all(self) -> list[Any]:
        return [self.reopen_case, self.sample_closed_cases]

"""Activities: the only place the workflows touch the outside world (projection, Kafka, Temporal)."""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from safetynet_core import kafka
from safetynet_core.logging import get_logger
from safetynet_core.policy import cached_policy
from safetynet_workflow.cases import case_input, search_attributes
from safetynet_workflow.events import publish
from safetynet_workflow.ledger_api import record_inspection_finding
from safetynet_workflow.metrics import observe
from safetynet_workflow.models import (
    CASE_WORKFLOW,
    Change,
    ReopenRequest,
    SampledCase,
    SampleRequest,
    Step,
    case_workflow_id,
)
from safetynet_workflow.sampling import stratified_sample
from safetynet_workflow.settings import Settings
from safetynet_workflow.store import Store, since
from safetynet_workflow.workflows import ACTIVITY_TIMEOUT, PROJECT_ACTIVITY, REOPEN_ACTIVITY, SAMPLE_ACTIVITY

log = get_logger(__name__)


def case_event_producer(settings: Settings) -> kafka.RenewingProducer:
    """The activities' producer: one not acknowledging within a third of the activity timeout is replaced
    before Temporal cancels the activity, so the retry publishes through a fresh one."""
    return kafka.RenewingProducer(
        lambda: kafka.make_producer(settings), ack_timeout=ACTIVITY_TIMEOUT.total_seconds() / 3
    )


class WorkflowActivities:
    """Activity implementations bound to the service's adapters."""

    def __init__(self, settings: Settings, store: Store, producer: kafka.RenewingProducer, client: Client) -> None:
        self.settings = settings
        self.store = store
        self.producer = producer
        self.client = client

    @activity.defn(name=PROJECT_ACTIVITY)
    async def project(self, change: Change) -> None:
        """Upsert the projection (versioned, idempotent), then publish the public entries."""
        new = await self.store.apply(change)
        observe(new, change.close_reason)
        await publish(self.producer, self.settings.topic_case_events, change)

    @activity.defn(name=REOPEN_ACTIVITY)
    async def reopen_case(self, request: ReopenRequest) -> str:
        """Start a new run of the household's case under the same case id (a failed inspection), and
        put the finding in the rectification ledger."""
        await record_inspection_finding(self.client, self.settings, request)
        facts = await self.store.reopen_facts(request.case_id)
        if facts is None:
            return "unknown case"
        policy = cached_policy(str(self.settings.policy_file))
        resume = Step.EVALUATE if request.close_reason == "risk_eliminated" else Step.VERIFY
        inp = case_input(
            policy,
            request.household_id,
            request.region_code,
            [],
            case_id=request.case_id,
            resume_step=resume,
            seq_start=facts["version"] + 1,
            measures_in_place=facts["measures"],
            has_labour=facts["labour"],
            opened_at=facts["opened_at"],
            search_attributes=self.settings.temporal_search_attributes,
        )
        try:
            await self.client.start_workflow(
                CASE_WORKFLOW,
                inp,
                id=case_workflow_id(request.household_id),
                task_queue=self.settings.workflow_task_queue,
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
        closed = await self.store.recently_closed(since(rules.closed_within_days, request.now))
        return stratified_sample(closed, rules, rules.seed + request.round)

    def all(self) -> list[Any]:
        return [self.project, self.reopen_case, self.sample_closed_cases]

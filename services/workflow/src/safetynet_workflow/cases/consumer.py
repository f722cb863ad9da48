"""Consumer (group "workflow") of risk assessments: flagged ones open or join the household's case.

Offsets are committed only after every Temporal call of the batch succeeded; poison records go to
`<topic>.dlq.workflow`. One household's records are handled in order, households concurrently."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from temporalio.client import Client

from safetynet_core.contracts import PoisonRecord, parse_assessment
from safetynet_core.kafka import DeadLetters, consume_batches, make_consumer
from safetynet_core.logging import get_logger
from safetynet_core.policy import Policy
from safetynet_workflow.cases.models import Evidence, HouseholdFacts
from safetynet_workflow.cases.opening import evidence_from, open_case
from safetynet_workflow.metrics import ASSESSMENTS
from safetynet_workflow.reports.store import ReportStore
from safetynet_workflow.settings import Settings

log = get_logger(__name__)


class AssessmentConsumer:
    """Turns the risk-assessments topic into case workflows."""

    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        client: Client,
        producer: AIOKafkaProducer,
        households: ReportStore | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.client = client
        self.households = households
        self.dead_letters = DeadLetters(producer, settings, "workflow")
        self._slots = asyncio.Semaphore(settings.consumer_concurrency)

    async def run(self) -> None:
        """The consume loop (restarted by `supervise`; uncommitted records are read again)."""
        consumer = make_consumer(
            self.settings,
            self.settings.consumer_group,
            self.settings.topic_risk_assessments,
            max_poll_records=self.settings.consumer_batch,
        )
        await consume_batches(
            consumer,
            self.handle,
            max_records=self.settings.consumer_batch,
            stall_seconds=self.settings.stall_seconds,
            timeout_ms=500,
        )

    async def handle(self, records: list[ConsumerRecord]) -> None:
        by_household: dict[str, list[Evidence]] = defaultdict(list)
        for record in records:
            try:
                message = parse_assessment(record.value)
                if not message.opens_case:
                    ASSESSMENTS.labels("not_flagged").inc()
                    continue
                evidence = evidence_from(message)
            except PoisonRecord as exc:
                ASSESSMENTS.labels("dead_lettered").inc()
                await self.dead_letters.send(record, exc.reason, str(exc))
                continue
            by_household[evidence.household_id].append(evidence)
        directory = await self.households.households_of(list(by_household)) if self.households and by_household else {}
        await asyncio.gather(
            *(self._open_in_order(items, directory.get(household_id)) for household_id, items in by_household.items())
        )

    async def _open_in_order(self, items: list[Evidence], facts: dict[str, Any] | None) -> None:
        household = HouseholdFacts.of(items[0].household_id, facts)
        grid_id = (facts or {}).get("grid_id")
        async with self._slots:
            for evidence in items:
                await open_case(
                    self.client,
                    self.policy,
                    evidence.model_copy(update={"grid_id": grid_id}) if grid_id else evidence,
                    household=household,
                    task_queue=self.settings.workflow_task_queue,
                    use_search_attributes=self.settings.temporal_search_attributes,
                )
                ASSESSMENTS.labels("case_signalled").inc()

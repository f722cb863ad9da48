"""The case-events consumer (group `risk-cases`): every `case.opened` and `case.closed` on the case-events
topic is folded into the household's case state (`casestate.apply`) and kept in its case history, in one
transaction per batch; offsets are committed after it (`kafka.consume_batches`, at least once: a replay
changes nothing). Other case events are skipped; poison records go to `<topic>.dlq.risk-cases`.

A household's case events and its household events may be consumed by different risk processes, so the
scoring side reads the case state from the database in each batch's transaction and caches none of it."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import ConsumerRecord

from safetynet_core import kafka
from safetynet_core.contracts import PoisonRecord
from safetynet_core.db import Database, raw_transaction
from safetynet_risk import metrics, store
from safetynet_risk.casestate import CaseChange, apply, decode_case_event
from safetynet_risk.settings import Settings

CONSUMER = "risk-cases"  # names its dead-letter topic


class CaseEventsConsumer:
    """Keeps each household's case state from the case-events topic."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings = settings
        self._db = db
        self.applied = 0

    async def run(self) -> None:
        """The consume loop (restarted by `supervise`; uncommitted records are read again)."""
        settings = self._settings
        await kafka.ensure_topics(settings, [settings.dlq_topic(settings.topic_case_events, CONSUMER)])
        producer = kafka.make_producer(settings)
        await producer.start()
        dead_letters = kafka.DeadLetters(producer, settings, CONSUMER)

        async def handle(records: list[ConsumerRecord]) -> None:
            changes = []
            for record in records:
                try:
                    change = decode_case_event(record.value)
                except PoisonRecord as poison:
                    await dead_letters.send(record, poison.reason, str(poison))
                    metrics.CASE_EVENTS.labels("dead_lettered").inc()
                    continue
                if change is None:
                    metrics.CASE_EVENTS.labels("skipped").inc()
                else:
                    changes.append(change)
            await self.store(changes)

        batch = settings.case_consume_batch
        consumer = kafka.make_consumer(
            settings, settings.case_consumer_group, settings.topic_case_events, max_poll_records=batch
        )
        try:
            await kafka.consume_batches(
                consumer,
                handle,
                max_records=batch,
                stall_seconds=settings.stall_seconds,
                timeout_ms=settings.consume_timeout_ms,
            )
        finally:
            await kafka.stop_clients(producer)

    async def store(self, changes: Sequence[CaseChange]) -> None:
        """Fold the changes into their households' case states and record them, in one transaction."""
        if not changes:
            return
        household_ids = sorted({change.household_id for change in changes})
        async with raw_transaction(self._db) as conn:
            states = await store.lock_case_states(conn, household_ids)
            for change in changes:
                states[change.household_id] = apply(states[change.household_id], change)
            await store.write_case_states(conn, states)
            await store.record_case_changes(conn, changes)
        self.applied += len(changes)
        metrics.CASE_EVENTS.labels("applied").inc(len(changes))

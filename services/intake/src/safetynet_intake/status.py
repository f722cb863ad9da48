"""Advances GET /v1/events status from `published` to `assessed`: consumes risk assessments (which name
their triggering event ids) and case events (which name the household's case). Off the request path."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord

from safetynet_core import kafka
from safetynet_core.contracts import (
    ASSESSMENT_LEVELS,
    CASE_EVENT_PREFIXES,
    CaseEventMessage,
    PoisonRecord,
    RiskAssessmentMessage,
    from_timestamp,
    now_utc,
    parse_record,
)
from safetynet_core.db import Database
from safetynet_core.logging import get_logger
from safetynet_intake import metrics
from safetynet_intake.info import SERVICE
from safetynet_intake.settings import Settings

log = get_logger(__name__)
GROUP_ID = "intake-status"


_ASSESSED = """
update events set status = 'assessed', assessment_id = $1, assessed_at = $2
where event_id = any($3::text[]) and household_id = $4
"""
_CASE = "update events set case_id = $1 where household_id = $2 and status = 'assessed' and case_id is null"


def group_id(settings: Settings) -> str:
    """`intake-status`, or one group per non-default schema so test runs do not join the stack's group."""
    schema = settings.db_schema or SERVICE.schema
    return GROUP_ID if schema == SERVICE.schema else f"{GROUP_ID}-{schema}"


class StatusConsumer:
    """Batch consumer; offsets are committed after the status updates commit."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db

    async def run(self) -> None:
        sources = (self.settings.topic_risk_assessments, self.settings.topic_case_events)
        await kafka.ensure_topics(self.settings, [self.settings.dlq_topic(t, GROUP_ID) for t in sources])
        producer = kafka.make_producer(self.settings)
        await producer.start()
        dead_letters = kafka.DeadLetters(producer, self.settings, GROUP_ID)
        consumer = kafka.make_consumer(
            self.settings,
            group_id(self.settings),
            self.settings.topic_risk_assessments,
            self.settings.topic_case_events,
        )

        async def apply(records: list[ConsumerRecord]) -> None:
            await self.apply(records, dead_letters)

        try:
            await kafka.consume_batches(consumer, apply, max_records=500, stall_seconds=self.settings.stall_seconds)
        finally:
            await kafka.stop_clients(producer)

    async def apply(self, records: list[ConsumerRecord], dead_letters: kafka.DeadLetters) -> None:
        assessed: list[tuple[Any, ...]] = []
        cases: list[tuple[str, str]] = []
        for record in records:
            try:
                if record.topic == self.settings.topic_risk_assessments:
                    message = _decode(RiskAssessmentMessage, record.value, message_type="level")
                    at = from_timestamp(message.assessed_at) if message.HasField("assessed_at") else now_utc()
                    assessed.append((message.assessment_id, at, list(message.event_ids), message.household_id))
                else:
                    case = _decode(CaseEventMessage, record.value, message_type="name")
                    if case.case_id:
                        cases.append((case.case_id, case.household_id))
            except PoisonRecord as exc:
                await dead_letters.send(record, exc.reason, str(exc))
        pool = await self.db.pool()
        async with pool.acquire() as conn, conn.transaction():
            if assessed:
                await conn.executemany(_ASSESSED, assessed)
            if cases:
                await conn.executemany(_CASE, cases)
        metrics.STATUS_UPDATES.labels("risk_assessments").inc(len(assessed))
        metrics.STATUS_UPDATES.labels("case_events").inc(len(cases))


def _known(message_type: str, value: str) -> bool:
    return value in ASSESSMENT_LEVELS if message_type == "level" else value.startswith(CASE_EVENT_PREFIXES)


def _decode(cls: type[Any], value: bytes | None, message_type: str) -> Any:
    """Parse a record; PoisonRecord when it is not protobuf, from a newer schema, or of an unknown type."""
    message = parse_record(cls, value)
    kind = getattr(message, message_type)
    if not _known(message_type, kind):
        raise PoisonRecord("unknown_type", f"unknown {message_type} {kind[:60]!r}")
    return message

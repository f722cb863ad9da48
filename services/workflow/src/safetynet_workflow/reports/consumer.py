"""Consumer (group "workflow-reports") of the household-events and risk-assessments topics into the
reporting tables. Writes are idempotent (keyed by event id / assessment id) and offsets are committed
only after the database commit; undecodable records go to `<topic>.dlq.workflow-reports`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from google.protobuf.message import DecodeError
from sqlalchemy.dialects.postgresql import insert

from safetynet_core.contracts import HouseholdEvent, RiskAssessmentMessage, from_timestamp
from safetynet_core.db import Database
from safetynet_core.kafka import DeadLetters, ensure_topics, make_consumer
from safetynet_core.logging import get_logger
from safetynet_workflow.reports.tables import (
    report_assessed_events,
    report_assessments,
    report_events,
    report_households,
)
from safetynet_workflow.settings import Settings

log = get_logger(__name__)
CONSUMER = "workflow-reports"

_household = insert(report_households)
UPSERT_HOUSEHOLD = _household.on_conflict_do_update(
    index_elements=["household_id"],
    set_={"region_code": _household.excluded.region_code, "recorded_at": _household.excluded.recorded_at},
    where=report_households.c.recorded_at <= _household.excluded.recorded_at,
)
INSERT_EVENT = insert(report_events).on_conflict_do_nothing()
INSERT_ASSESSMENT = insert(report_assessments).on_conflict_do_nothing()
INSERT_ASSESSED = insert(report_assessed_events).on_conflict_do_nothing()


class Poison(ValueError):
    """A record that cannot become a reporting row."""


def _when(message: Any, field: str) -> datetime:
    return from_timestamp(getattr(message, field)) if message.HasField(field) else datetime.now(UTC)


class Rows:
    """One batch's rows, per table (the last registry record of a household wins)."""

    def __init__(self) -> None:
        self.households: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.assessments: list[dict[str, Any]] = []
        self.assessed: list[dict[str, Any]] = []

    def add_household_event(self, value: bytes | None) -> None:
        message = HouseholdEvent()
        try:
            message.ParseFromString(value or b"")
        except DecodeError as exc:
            raise Poison(f"not a HouseholdEvent: {exc}") from exc
        if not message.event_id or not message.household_id:
            raise Poison("household event needs event_id and household_id")
        body = message.WhichOneof("body")
        if body == "registry_record":
            row = {
                "household_id": message.household_id,
                "region_code": message.registry_record.region_code,
                "recorded_at": _when(message, "occurred_at"),
            }
            current = self.households.get(message.household_id)
            if current is None or current["recorded_at"] <= row["recorded_at"]:
                self.households[message.household_id] = row
        elif body == "department_event":
            self.events.append(
                {
                    "event_id": message.event_id,
                    "household_id": message.household_id,
                    "department": message.department,
                    "type": message.department_event.type,
                    "occurred_at": _when(message, "occurred_at"),
                    "received_at": _when(message, "received_at"),
                }
            )
        else:
            raise Poison("household event has no body")

    def add_assessment(self, value: bytes | None) -> None:
        try:
            message = RiskAssessmentMessage.FromString(value or b"")
        except DecodeError as exc:
            raise Poison(f"not a RiskAssessment: {exc}") from exc
        if not message.assessment_id or not message.household_id:
            raise Poison("assessment needs assessment_id and household_id")
        self.assessments.append(
            {
                "assessment_id": message.assessment_id,
                "household_id": message.household_id,
                "region_code": message.region_code,
                "category": message.category,
                "level": message.level,
                "score": message.score,
                "risk_types": list(message.risk_types),
                "warnings": list(message.warnings),
                "opens_case": message.opens_case,
                "assessed_at": _when(message, "assessed_at"),
            }
        )
        self.assessed.extend({"event_id": e, "assessment_id": message.assessment_id} for e in message.event_ids)

    async def write(self, db: Database) -> None:
        statements = (
            (UPSERT_HOUSEHOLD, list(self.households.values())),
            (INSERT_EVENT, self.events),
            (INSERT_ASSESSMENT, self.assessments),
            (INSERT_ASSESSED, self.assessed),
        )
        async with db.engine.begin() as conn:
            for statement, rows in statements:
                if rows:
                    await conn.execute(statement, rows)


class ReportsConsumer:
    """Feeds the reporting tables from the intake and risk topics."""

    def __init__(self, settings: Settings, db: Database, producer: AIOKafkaProducer, batch: int = 500) -> None:
        self.settings = settings
        self.db = db
        self.dead_letters = DeadLetters(producer, settings, CONSUMER)
        self.batch = batch
        self._dlq_ready: set[str] = set()

    async def run(self) -> None:
        """The consume loop (restarted by `supervise`; uncommitted records are read again)."""
        topics = (self.settings.topic_household_events, self.settings.topic_risk_assessments)
        consumer = make_consumer(self.settings, CONSUMER, *topics, max_poll_records=self.batch)
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=self.batch)
                records = [r for partition in batches.values() for r in partition]
                if records:
                    await self.handle(records)
                    await consumer.commit()
        finally:
            await consumer.stop()

    async def handle(self, records: list[ConsumerRecord]) -> None:
        rows = Rows()
        for record in records:
            try:
                if record.topic == self.settings.topic_risk_assessments:
                    rows.add_assessment(record.value)
                else:
                    rows.add_household_event(record.value)
            except Poison as exc:
                await self._dead_letter(record, str(exc))
        await rows.write(self.db)

    async def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        topic = self.settings.dlq_topic(record.topic, CONSUMER)
        if topic not in self._dlq_ready:
            await ensure_topics(self.settings, [topic])
            self._dlq_ready.add(topic)
        await self.dead_letters.send(record, "invalid", error)

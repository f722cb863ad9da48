"""Consumer (group "workflow-reports") of the household-events and risk-assessments topics into the
reporting tables. Writes are idempotent (keyed by event id / assessment id) and offsets are committed
only after the database commit; undecodable records go to `<topic>.dlq.workflow-reports`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from sqlalchemy.dialects.postgresql import insert

from safetynet.v1 import household_events_pb2 as hpb
from safetynet_core.contracts import (
    ACKNOWLEDGEMENT_TYPES,
    EventType,
    HouseholdEvent,
    PoisonRecord,
    department_payload,
    from_timestamp,
    parse_assessment,
    parse_record,
)
from safetynet_core.db import Database
from safetynet_core.kafka import DeadLetters, consume_batches, ensure_topics, make_consumer
from safetynet_core.logging import get_logger
from safetynet_workflow.reports.coverage import CoverageRows
from safetynet_workflow.reports.tables import (
    report_assessed_events,
    report_assessments,
    report_events,
    report_households,
)
from safetynet_workflow.settings import Settings

log = get_logger(__name__)
CONSUMER = "workflow-reports"
REGISTRY_FACTS = (
    "grid_id", "poverty_status", "members", "in_school", "no_labour", "income_pc", "labour_members", "head_name",
)  # fmt: skip
WORKING = (hpb.LABOUR_CAPACITY_FULL, hpb.LABOUR_CAPACITY_PARTIAL)
POVERTY_STATUS = {hpb.POVERTY_STATUS_LIFTED: "lifted", hpb.POVERTY_STATUS_GENERAL: "general"}

_household = insert(report_households)
UPSERT_HOUSEHOLD = _household.on_conflict_do_update(
    index_elements=["household_id"],
    set_={c: _household.excluded[c] for c in ("region_code", "recorded_at", *REGISTRY_FACTS)},
    where=report_households.c.recorded_at <= _household.excluded.recorded_at,
)
INSERT_EVENT = insert(report_events).on_conflict_do_nothing()
INSERT_ASSESSMENT = insert(report_assessments).on_conflict_do_nothing()
INSERT_ASSESSED = insert(report_assessed_events).on_conflict_do_nothing()


def _when(message: Any, field: str) -> datetime:
    return from_timestamp(getattr(message, field)) if message.HasField(field) else datetime.now(UTC)


def registry_facts(record: hpb.HouseholdRecord) -> dict[str, Any]:
    """What grid routing, sweep targeting and cases need from a registry record (no ID numbers)."""
    members = len(record.members)
    head = next((m.name for m in record.members if m.member_id == record.head_member_id), "")
    return {
        "grid_id": record.grid_id or None,
        "poverty_status": POVERTY_STATUS.get(record.poverty_status),
        "members": members,
        "in_school": sum(1 for m in record.members if m.in_school),
        "no_labour": members > 0 and all(m.labour_capacity == hpb.LABOUR_CAPACITY_NONE for m in record.members),
        "income_pc": record.annual_net_income_cny / members if members else None,
        "labour_members": sum(1 for m in record.members if m.labour_capacity in WORKING),
        "head_name": head[:100],
    }


class Rows:
    """One batch's rows, per table (the last registry record of a household wins), and the deaths reported."""

    def __init__(self) -> None:
        self.households: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.deaths: list[dict[str, Any]] = []
        self.measure_updates: list[dict[str, Any]] = []
        self.assessments: list[dict[str, Any]] = []
        self.assessed: list[dict[str, Any]] = []
        self.coverage = CoverageRows()

    def add_household_event(self, value: bytes | None) -> None:
        message = parse_record(HouseholdEvent, value)
        if not message.event_id or not message.household_id:
            raise PoisonRecord("invalid", "household event needs event_id and household_id")
        if self.coverage.add(message):
            return  # a member's insurance or employment status: the coverage checks' alone
        body = message.WhichOneof("body")
        if body == "registry_record":
            row = {
                "household_id": message.household_id,
                "region_code": message.registry_record.region_code,
                "recorded_at": _when(message, "occurred_at"),
                **registry_facts(message.registry_record),
            }
            current = self.households.get(message.household_id)
            if current is None or current["recorded_at"] <= row["recorded_at"]:
                self.households[message.household_id] = row
        elif body == "department_event" and message.department_event.type in ACKNOWLEDGEMENT_TYPES:
            payload = department_payload(message.department_event)
            self.measure_updates.append(
                {
                    **payload,
                    "event_id": message.event_id,
                    "department": message.department,
                    "member_id": message.department_event.member_id,
                    "occurred_at": _when(message, "occurred_at"),
                }
            )
        elif body == "department_event":
            event = {
                "event_id": message.event_id,
                "household_id": message.household_id,
                "department": message.department,
                "type": message.department_event.type,
                "occurred_at": _when(message, "occurred_at"),
                "received_at": _when(message, "received_at"),
            }
            self.events.append(event)
            if event["type"] == EventType.DEATH:
                self.deaths.append({**event, "member_id": message.department_event.member_id})
        else:
            raise PoisonRecord("invalid", "household event has no body")

    def add_assessment(self, value: bytes | None) -> None:
        message = parse_assessment(value)
        if not message.assessment_id or not message.household_id:
            raise PoisonRecord("invalid", "assessment needs assessment_id and household_id")
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
        async with db.unit_of_work() as uow:
            for statement, rows in statements:
                if rows:
                    await uow.execute(statement, rows)
            await self.coverage.write(uow)
            await uow.commit()


# Told what a batch wrote: the households' new registry facts, deaths reported and the departments' answers on
# measures (acknowledgements are not department facts: they go to their case, not to the reporting tables).
HouseholdNews = Callable[["Rows"], Awaitable[None]]


class ReportsConsumer:
    """Feeds the reporting tables from the intake and risk topics."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        producer: AIOKafkaProducer,
        batch: int = 500,
        on_households: HouseholdNews | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.on_households = on_households
        self.dead_letters = DeadLetters(producer, settings, CONSUMER)
        self.batch = batch
        self._dlq_ready: set[str] = set()

    async def run(self) -> None:
        """The consume loop (restarted by `supervise`; uncommitted records are read again)."""
        topics = (self.settings.topic_household_events, self.settings.topic_risk_assessments)
        consumer = make_consumer(self.settings, CONSUMER, *topics, max_poll_records=self.batch)
        await consume_batches(
            consumer, self.handle, max_records=self.batch, stall_seconds=self.settings.stall_seconds, timeout_ms=500
        )

    async def handle(self, records: list[ConsumerRecord]) -> None:
        rows = Rows()
        for record in records:
            try:
                if record.topic == self.settings.topic_risk_assessments:
                    rows.add_assessment(record.value)
                else:
                    rows.add_household_event(record.value)
            except PoisonRecord as exc:
                await self._dead_letter(record, exc)
        await rows.write(self.db)
        if self.on_households is not None and (rows.households or rows.deaths or rows.measure_updates):
            await self.on_households(rows)

    async def _dead_letter(self, record: ConsumerRecord, poison: PoisonRecord) -> None:
        topic = self.settings.dlq_topic(record.topic, CONSUMER)
        if topic not in self._dlq_ready:
            await ensure_topics(self.settings, [topic])
            self._dlq_ready.add(topic)
        await self.dead_letters.send(record, poison.reason, str(poison))

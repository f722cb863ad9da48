"""Registry records from the public household-events topic, for the exchange purposes that need members
and labour: the latest record of each household in `exchange_households` (the topic carries ID numbers
masked only), and the changes a newer record adds to open included cases. Of the department events on the
same topic only the coverage checks' reports are kept (members' insurance and employment, unemployment,
deaths: `exchange_coverage`), with the gaps they change; the rest are skipped. Offsets are committed after
the database commit; poison records go to `<topic>.dlq.notify-registry`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from aiokafka import ConsumerRecord
from sqlalchemy import text

from safetynet_core import kafka
from safetynet_core.contracts import LABOUR_CAPACITY_NAMES, HouseholdEvent, PoisonRecord, from_timestamp, parse_record
from safetynet_core.coverage import CoverageFact, fact_of
from safetynet_core.db import Database
from safetynet_core.logging import get_logger
from safetynet_core.policy.exchange import ExchangePolicy
from safetynet_notify import exchange, exchange_coverage, exchange_records, metrics
from safetynet_notify.consumer import queued
from safetynet_notify.info import SERVICE
from safetynet_notify.settings import Settings

log = get_logger(__name__)
DLQ_CONSUMER = "notify-registry"

_UPSERT = text("""
insert into exchange_households (household_id, region_code, members, recorded_at, updated_at)
values (:household_id, :region_code, cast(:members as jsonb), :recorded_at, :now)
on conflict (household_id) do update set
    region_code = excluded.region_code, members = excluded.members, recorded_at = excluded.recorded_at,
    updated_at = excluded.updated_at
where exchange_households.recorded_at <= excluded.recorded_at
returning household_id
""")


def group_id(settings: Settings) -> str:
    """The configured group, or one per non-default schema so test runs do not join the stack's group."""
    schema = settings.db_schema or SERVICE.schema
    group = settings.registry_consumer_group
    return group if schema == SERVICE.schema else f"{group}-{schema}"


def household_of(message: HouseholdEvent) -> exchange_records.Household | None:
    """The registry facts a record carries; None for department events; PoisonRecord when unusable."""
    if message.WhichOneof("body") != "registry_record":
        return None
    record = message.registry_record
    if not message.household_id or not record.region_code:
        raise PoisonRecord("invalid", "a registry record needs household_id and region_code")
    members = [
        {
            "member_id": m.member_id,
            "name": m.name,
            "id_number_masked": m.id_number_masked,
            "birth_date": m.birth_date or None,
            "labour_capacity": LABOUR_CAPACITY_NAMES.get(m.labour_capacity),
            "in_school": m.in_school,
        }
        for m in record.members
    ]
    recorded_at = from_timestamp(message.occurred_at) if message.HasField("occurred_at") else None
    return exchange_records.Household(message.household_id, record.region_code, members, recorded_at)


class RegistryConsumer:
    """Consumer group `notify-registry` on the household-events topic."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        policy: ExchangePolicy,
        clock: Callable[[], datetime],
        wake: asyncio.Event | None = None,
    ) -> None:
        self._settings = settings
        self._db = db
        self._policy = policy
        self._clock = clock
        self._wake = wake

    async def handle(self, records: Sequence[ConsumerRecord], dead_letters: kafka.DeadLetters) -> int:
        """Store the batch's coverage reports and latest record per household, then the changes they add;
        returns new deliveries."""
        latest: dict[str, tuple[exchange_records.Household, str]] = {}
        reports: list[CoverageFact] = []
        reported: dict[str, str] = {}  # household -> the source of its last report in the batch
        for record in records:
            try:
                message = parse_record(HouseholdEvent, record.value)
                household, fact = household_of(message), fact_of(message)
            except PoisonRecord as exc:
                await dead_letters.send(record, exc.reason, str(exc))
                metrics.DEAD_LETTERS.labels("kafka", "none").inc()
                continue
            source_key = f"registry:{record.partition}:{record.offset}"
            if household is not None:
                latest[household.household_id] = (household, source_key)
            if fact is not None:
                reports.append(fact)
                reported[fact.household_id] = source_key
        if not latest and not reports:
            return 0
        now = self._clock()
        created: list[str] = []
        async with self._db.unit_of_work() as uow:
            await exchange.lock_households(uow.session, [*latest, *reported])
            await exchange_coverage.remember(uow.session, reports)
            changed = []
            for household, source_key in latest.values():
                stored = await uow.session.execute(_UPSERT, self._row(household, now))
                if stored.first() is not None:
                    changed.append((household, source_key))
            for household, source_key in changed:
                created += await exchange.on_registry(uow.session, household, self._policy, source_key, now)
                reported.pop(household.household_id, None)  # its gaps are made already
            for household_id, source_key in reported.items():
                created += await exchange.on_coverage(uow.session, household_id, self._policy, source_key, now)
            await uow.commit()
        return queued(created, self._wake)

    @staticmethod
    def _row(household: exchange_records.Household, now: datetime) -> dict[str, Any]:
        return {
            "household_id": household.household_id,
            "region_code": household.region_code,
            "members": orjson.dumps(household.members).decode(),
            "recorded_at": household.recorded_at or now,
            "now": now,
        }

    async def run(self) -> None:
        topic = self._settings.topic_household_events
        await kafka.ensure_topics(self._settings, [self._settings.dlq_topic(topic, DLQ_CONSUMER)])
        producer = kafka.make_producer(self._settings)
        await producer.start()
        dead_letters = kafka.DeadLetters(producer, self._settings, DLQ_CONSUMER)

        async def handle(records: list[ConsumerRecord]) -> None:
            await self.handle(records, dead_letters)

        try:
            consumer = kafka.make_consumer(self._settings, group_id(self._settings), topic)
            await kafka.consume_batches(
                consumer, handle, max_records=self._settings.consume_batch, stall_seconds=self._settings.stall_seconds
            )
        finally:
            await kafka.stop_clients(producer)

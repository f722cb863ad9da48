"""At-least-once consumption of case events: fan each out to deliveries (idempotent by notification key),
commit the database, then the Kafka offsets. Poison records go to `<topic>.dlq.notify`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from jinja2 import TemplateError
from sqlalchemy.ext.asyncio import AsyncSession

from safetynet_core import kafka
from safetynet_core.contracts import PoisonRecord
from safetynet_core.db import Database
from safetynet_core.logging import get_logger
from safetynet_core.policy.exchange import ExchangePolicy
from safetynet_core.vocabulary import Channel
from safetynet_notify import exchange, metrics, store
from safetynet_notify.directory import Recipient, resolve_recipients
from safetynet_notify.events import EVENT_NAMES, CaseEvent, MessageText, decode, webhook_payload
from safetynet_notify.render import LOCALES, Renderer, normalize_locale
from safetynet_notify.settings import Settings

log = get_logger(__name__)
Clock = Callable[[], datetime]


def queued(channels: list[str], wake: asyncio.Event | None) -> int:
    """Count deliveries a committed transaction queued and wake the delivery worker; returns how many."""
    for channel in channels:
        metrics.DELIVERIES.labels(channel, "queued").inc()
    if channels and wake is not None:
        wake.set()
    return len(channels)


def notification_key(event_key: str, channel: str, recipient: str) -> str:
    return f"{event_key}:{channel}:{recipient}"


class Planner:
    """Turns one case event into delivery rows for the enabled channels."""

    def __init__(self, settings: Settings, renderer: Renderer, channels: frozenset[str]) -> None:
        self._settings = settings
        self._renderer = renderer
        self._channels = channels

    def _row(
        self,
        event: CaseEvent,
        now: datetime,
        channel: str,
        recipient: str,
        address: str,
        locale: str,
        subject: str,
        body: str,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "notification_key": notification_key(event.event_key, channel, recipient),
            "event_key": event.event_key,
            "event_name": event.name,
            "case_id": event.case_id,
            "region_code": event.task_region,
            "channel": channel,
            "recipient": recipient,
            "address": address,
            "locale": locale,
            "subject": subject,
            "body": body,
            "payload": payload,
            "escalation_level": event.escalation_level,
            "status": "pending",
            "attempts": 0,
            "occurred_at": event.occurred_at,
            "created_at": now,
            "next_attempt_at": now,
        }

    def for_people(
        self, event: CaseEvent, people: Sequence[Recipient], now: datetime
    ) -> list[dict[str, Any]]:
        rows = []
        for person in people:
            locale = normalize_locale(person.locale, self._settings.default_locale)
            text = self._renderer.render(event, locale)
            if person.email and Channel.EMAIL in self._channels:
                rows.append(
                    self._row(
                        event, now, Channel.EMAIL, person.username, person.email, locale, text.subject, text.body
                    )
                )
            if person.phone and Channel.SMS in self._channels:
                rows.append(
                    self._row(
                        event, now, Channel.SMS, person.username, person.phone, locale, text.subject, text.sms
                    )
                )
        return rows

    def for_subscribers(
        self, event: CaseEvent, subscribers: Sequence[Any], now: datetime
    ) -> list[dict[str, Any]]:
        if not subscribers or Channel.WEBHOOK not in self._channels:
            return []
        texts = {loc: self._renderer.render(event, loc) for loc in LOCALES}
        message = {loc: MessageText(subject=t.subject, body=t.body) for loc, t in texts.items()}
        payload = webhook_payload(event, self._renderer.link(event.case_id), message)
        default = texts[normalize_locale(self._settings.default_locale)]
        return [
            self._row(
                event,
                now,
                Channel.WEBHOOK,
                sub.subscription_id,
                sub.url,
                self._settings.default_locale,
                default.subject,
                default.body,
                payload,
            )
            for sub in subscribers
        ]

    async def plan(self, session: AsyncSession, event: CaseEvent, now: datetime) -> list[dict[str, Any]]:
        people = await resolve_recipients(session, event)
        subscribers = await store.matching_subscriptions(session, event.name, event.task_region)
        return self.for_people(event, people, now) + self.for_subscribers(event, subscribers, now)


class CaseEventConsumer:
    """Consumer group `notify` on the case-events topic; commits offsets after the database commit."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        planner: Planner,
        clock: Clock,
        wake: asyncio.Event | None = None,
        exchange_policy: ExchangePolicy | None = None,
    ) -> None:
        self._settings = settings
        self._db = db
        self._planner = planner
        self._exchange_policy = exchange_policy or ExchangePolicy()
        self._clock = clock
        self._wake = wake

    @staticmethod
    async def _poison(
        dead_letters: kafka.DeadLetters, record: ConsumerRecord, reason: str, error: str
    ) -> None:
        await dead_letters.send(record, reason, error)
        metrics.DEAD_LETTERS.labels("kafka", "none").inc()
        metrics.EVENTS_CONSUMED.labels("invalid", "dead_lettered").inc()

    async def handle(self, records: Sequence[ConsumerRecord], dead_letters: kafka.DeadLetters) -> int:
        """Plan and store deliveries for a batch in one transaction; returns how many deliveries are new."""
        events: list[tuple[ConsumerRecord, CaseEvent]] = []
        for record in records:
            try:
                event = decode(record.value)
            except PoisonRecord as exc:
                await self._poison(dead_letters, record, exc.reason, str(exc))
                continue
            if event.name not in EVENT_NAMES:
                log.info("case_event_ignored", name=event.name[:50], event_key=event.event_key)
                metrics.EVENTS_CONSUMED.labels("other", "ignored").inc()
                continue
            events.append((record, event))
        created: list[str] = []
        now = self._clock()
        async with self._db.unit_of_work() as uow:
            await exchange.lock_households(uow.session, (event.household_id for _, event in events))
            for record, event in events:
                try:
                    rows = await self._planner.plan(uow.session, event, now)
                except TemplateError as exc:  # a message we cannot render would block the partition
                    await self._poison(dead_letters, record, "render", f"{type(exc).__name__}: {exc}")
                    continue
                created += await store.enqueue(uow.session, rows)
                created += await exchange.on_case_event(uow.session, event, self._exchange_policy, now)
                metrics.EVENTS_CONSUMED.labels(event.name, "planned").inc()
                log.info(
                    "case_event_planned", name=event.name, event_key=event.event_key, case_id=event.case_id
                )
            await uow.commit()
        return queued(created, self._wake)

    async def run(self) -> None:
        consumer: AIOKafkaConsumer = kafka.make_consumer(
            self._settings, self._settings.consumer_group, self._settings.topic_case_events
        )
        producer: AIOKafkaProducer = kafka.make_producer(self._settings)
        await producer.start()
        dead_letters = kafka.DeadLetters(producer, self._settings, "notify")

        async def handle(records: list[ConsumerRecord]) -> None:
            await self.handle(records, dead_letters)

        try:
            await kafka.consume_batches(
                consumer,
                handle,
                max_records=self._settings.consume_batch,
                stall_seconds=self._settings.stall_seconds,
            )
        finally:
            await kafka.stop_clients(producer)

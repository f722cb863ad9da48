"""The delivery worker: takes due deliveries, applies SMS timing rules, sends, records every attempt,
retries with exponential backoff and jitter, and dead-letters after the maximum number of attempts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from safetynet_core.db import Database
from safetynet_core.logging import get_logger
from safetynet_core.vocabulary import Channel
from safetynet_notify import metrics, store
from safetynet_notify.policy import backoff_seconds, sms_hold_until
from safetynet_notify.settings import Settings
from safetynet_notify.transports import DeliveryError, Outbound, Transport

log = get_logger(__name__)
Clock = Callable[[], datetime]


class DeliveryWorker:
    """Drains the deliveries table; safe to run in several replicas (leases with SKIP LOCKED)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        transports: Mapping[str, Transport],
        clock: Clock,
        wake: asyncio.Event | None = None,
    ) -> None:
        self._settings = settings
        self._db = db
        self._transports = transports
        self._clock = clock
        self._wake = wake or asyncio.Event()
        self._tz = ZoneInfo(settings.local_timezone)
        self._limit = asyncio.Semaphore(settings.delivery_concurrency)

    async def _sms_hold(self, item: store.Claimed, now: datetime) -> datetime | None:
        s = self._settings
        recent = await store.recent_sms(self._db, item.address, now - timedelta(hours=1))
        return sms_hold_until(
            now,
            item.escalation_level,
            recent,
            tz=self._tz,
            quiet_start=s.sms_quiet_start_hour,
            quiet_end=s.sms_quiet_end_hour,
            override_level=s.sms_quiet_override_level,
            per_hour=s.sms_rate_limit_per_hour,
        )

    async def _outbound(self, item: store.Claimed) -> Outbound:
        secret = (
            await store.subscription_secret(self._db, item.recipient) if item.channel == Channel.WEBHOOK else None
        )
        return Outbound(
            notification_key=item.notification_key,
            event_name=item.event_name,
            address=item.address,
            subject=item.subject,
            body=item.body,
            payload=item.payload,
            secret=secret,
        )

    async def deliver(self, item: store.Claimed) -> str:
        """One try of one delivery; returns the resulting status."""
        now = self._clock()
        if item.channel == Channel.SMS:
            hold = await self._sms_hold(item, now)
            if hold is not None:
                await store.defer(self._db, item.delivery_id, hold, f"held until {hold.astimezone(self._tz)}")
                metrics.DELIVERIES.labels(item.channel, "deferred").inc()
                return "deferred"
        error: DeliveryError | None = None
        started = time.perf_counter()
        transport = self._transports.get(item.channel)
        try:
            if transport is None:
                raise DeliveryError(f"channel {item.channel} is not configured", permanent=True)
            await transport.send(await self._outbound(item))
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # an adapter bug must not kill the worker; it counts as a failed try
            log.exception("delivery_adapter_failed", delivery_id=item.delivery_id, channel=item.channel)
            error = DeliveryError(type(exc).__name__)
        duration_ms = int((time.perf_counter() - started) * 1000)
        attempt = item.attempts + 1
        next_at: datetime | None = None
        if error is None:
            status = "sent"
            metrics.LATENCY.labels(item.channel).observe(
                max(0.0, (now - item.occurred_at).total_seconds()) + duration_ms / 1000
            )
        elif error.permanent or attempt >= self._settings.delivery_max_attempts:
            status = "dead"
            metrics.DEAD_LETTERS.labels("delivery", item.channel).inc()
        else:
            status = "retrying"
            s = self._settings
            next_at = now + timedelta(
                seconds=backoff_seconds(
                    attempt,
                    s.delivery_backoff_base_seconds,
                    s.delivery_backoff_max_seconds,
                    s.delivery_jitter,
                )
            )
        await store.record_attempt(
            self._db,
            item,
            started_at=now,
            duration_ms=duration_ms,
            error=None if error is None else str(error)[:1000],
            status=status,
            next_attempt_at=next_at,
        )
        metrics.ATTEMPTS.labels(item.channel, "success" if error is None else "failure").inc()
        metrics.DELIVERIES.labels(item.channel, status).inc()
        log.info(
            "delivery_attempt",
            delivery_id=item.delivery_id,
            channel=item.channel,
            status=status,
            attempt=attempt,
            error=None if error is None else str(error)[:200],
        )
        return status

    async def _guarded(self, item: store.Claimed) -> str:
        async with self._limit:
            return await self.deliver(item)

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many deliveries were taken."""
        s = self._settings
        items = await store.claim_due(
            self._db, self._clock(), s.delivery_batch, timedelta(seconds=s.delivery_lease_seconds)
        )
        if items:
            await asyncio.gather(*(self._guarded(item) for item in items))
        await self.refresh_queue_depth()
        return len(items)

    async def refresh_queue_depth(self) -> None:
        depth = await store.queue_depth(self._db)
        for channel in metrics.CHANNELS:
            for status in store.OPEN_STATUSES:
                metrics.RETRY_QUEUE.labels(channel, status).set(depth.get((channel, status), 0))

    async def run(self) -> None:
        """Loop until cancelled; sleeps at most delivery_poll_seconds, less when the consumer wakes it."""
        while True:
            if await self.run_once():
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._settings.delivery_poll_seconds)

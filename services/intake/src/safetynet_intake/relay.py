"""Outbox relay: publishes unpublished outbox rows to Kafka in id order and marks them published.

Runs in the app's lifespan (SAFETYNET_INTAKE_RUN_RELAY=true, the default) or on its own with
`python -m safetynet_intake.relay`. One relay per schema publishes at a time (an advisory lock per
batch keeps per-household order, and makes row locks on the outbox unnecessary); Kafka outages are
retried with backoff while intake keeps accepting."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable

import asyncpg
from aiokafka import AIOKafkaProducer

from safetynet_core import kafka
from safetynet_core.contracts import now_utc
from safetynet_core.db import Database
from safetynet_core.logging import configure_logging, get_logger
from safetynet_core.metrics import observe_many
from safetynet_core.service import supervise
from safetynet_intake import metrics
from safetynet_intake.info import SERVICE
from safetynet_intake.settings import Settings
from safetynet_intake.store import OUTBOX_CHANNEL

log = get_logger(__name__)
ProducerFactory = Callable[[], AIOKafkaProducer]
BACKLOG_REFRESH_SECONDS = 2.0

# Taken first in each batch's transaction. The planner settings (local to the transaction) keep the batch
# query on the ordered walk of `outbox_unpublished` that stops after `limit` rows: right after a burst the
# table's statistics still describe it as nearly empty, and the planner then sorts every unpublished row
# for each batch (measured: 20-35 ms per 1,000-row batch over a 100k backlog instead of ~2 ms).
LOCK_BATCH = """
select pg_try_advisory_xact_lock(hashtext('safetynet_intake_relay:' || current_schema()))
    and set_config('enable_sort', 'off', true) is not null
    and set_config('enable_bitmapscan', 'off', true) is not null
"""

# The backlog gauge: counted exactly up to BACKLOG_EXACT rows; beyond, the span of ids from the oldest unpublished
# row to the newest row (an upper bound: ids reserved for a batch's rejected lines are in it). A full count over
# a backlog of 700,000 rows took 1-2 s of Postgres, and blocked the relay for as long, every 2 s.
BACKLOG_EXACT = 10_000
BACKLOG = """
select case when counted.rows <= $1 then counted.rows
            else coalesce((select max(id) from outbox) - oldest.id + 1, counted.rows) end as backlog,
       coalesce(extract(epoch from now() - oldest.created_at), 0) as age
from (select count(*) as rows from (select from outbox where published_at is null limit $1 + 1) capped) counted
left join lateral (select id, created_at from outbox where published_at is null order by id limit 1) oldest on true
"""

SELECT_BATCH = """
select id, topic, key, value, created_at from outbox
where published_at is null order by id limit $1
"""


def default_producer_factory(settings: Settings) -> ProducerFactory:
    """The idempotent acks=all producer, aimed at `relay_kafka_bootstrap` when set."""
    return lambda: kafka.make_producer(
        settings, bootstrap_servers=settings.relay_kafka_bootstrap or settings.kafka_bootstrap
    )


class OutboxRelay:
    """Moves outbox rows to Kafka; `wake()` after inserting makes it look right away."""

    def __init__(self, settings: Settings, db: Database, producer_factory: ProducerFactory | None = None) -> None:
        self.settings = settings
        self.db = db
        self.producer = kafka.RenewingProducer(producer_factory or default_producer_factory(settings), ack_timeout=None)
        self._wakeup = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._backlog_checked = 0.0

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        """Publish until cancelled, with exponential backoff while Kafka (or Postgres) is unavailable."""
        delay = 0.2
        try:
            while True:
                await self._ensure_listener()
                self._wakeup.clear()
                try:
                    await self._refresh_backlog()  # also while Kafka is down: that is when the age alerts matter
                    published = await self.publish_batch()
                    delay = 0.2
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    metrics.RELAY_FAILURES.inc()
                    log.warning("relay_batch_failed", error=f"{type(exc).__name__}: {exc}"[:300], retry_in=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.settings.relay_backoff_max)
                    continue
                if published == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), self.settings.relay_poll_interval)
                elif published < self.settings.relay_batch_size:
                    # Under a steady trickle, let rows gather for the next batch instead of publishing
                    # a handful at a time (the batch's fixed cost is most of the relay's work).
                    await asyncio.sleep(self.settings.relay_linger_seconds)
        finally:
            await self.producer.close()
            if self._listener is not None:
                with contextlib.suppress(Exception):
                    await self._listener.close()

    async def publish_batch(self) -> int:
        """Publish one batch in one transaction; the rows are marked only after Kafka acknowledged all (the
events they carry read `published` from them: the relay never rewrites an event row)."""
        pool = await self.db.pool()
        async with pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(LOCK_BATCH):
                return 0  # another relay is publishing this schema's outbox
            rows = await conn.fetch(SELECT_BATCH, self.settings.relay_batch_size)
            if not rows:
                return 0
            messages = ((row["topic"], row["key"].encode(), row["value"]) for row in rows)
            await self.producer.send_keyed(messages)
            published_at = now_utc()
            await conn.execute(
                "update outbox set published_at = $2 where id = any($1::bigint[])",
                [r["id"] for r in rows],
                published_at,
            )
        metrics.PUBLISHED.inc(len(rows))
        observe_many(
            metrics.PUBLISH_LATENCY, (max(0.0, (published_at - row["created_at"]).total_seconds()) for row in rows)
        )
        return len(rows)

    async def _ensure_listener(self) -> None:
        """LISTEN for inserts made by app processes that do not run the relay themselves."""
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(self.settings.asyncpg_dsn, timeout=5)
            await self._listener.add_listener(OUTBOX_CHANNEL, lambda *_: self.wake())
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            self._listener = None
            log.warning("relay_listen_failed", error=str(exc)[:200])

    async def _refresh_backlog(self) -> None:
        if time.monotonic() - self._backlog_checked < BACKLOG_REFRESH_SECONDS:
            return
        self._backlog_checked = time.monotonic()
        pool = await self.db.pool()
        async with pool.acquire() as conn, conn.transaction():
            # Both walks stay on `outbox_unpublished`, whatever stale statistics say (see LOCK_BATCH).
            await conn.execute("set local enable_seqscan = off; set local enable_bitmapscan = off")
            row = await conn.fetchrow(BACKLOG, BACKLOG_EXACT)
        if row is not None:
            metrics.OUTBOX_BACKLOG.set(row["backlog"])
            metrics.OUTBOX_OLDEST_AGE.set(float(row["age"]))


async def run_standalone() -> None:
    """`python -m safetynet_intake.relay`: the relay alone, stopped by SIGTERM or SIGINT."""
    from prometheus_client import start_http_server

    settings = Settings()
    configure_logging(f"{SERVICE.name}-relay", settings.log_level, settings.log_json)
    if settings.relay_metrics_port:
        start_http_server(settings.relay_metrics_port, addr="127.0.0.1")
    db = Database(settings, settings.db_schema or SERVICE.schema, pool_size=2)
    relay = OutboxRelay(settings, db)
    task = asyncio.create_task(supervise("outbox-relay", relay.run))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    log.info("relay_started", schema=db.schema)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await db.close()


if __name__ == "__main__":
    asyncio.run(run_standalone())

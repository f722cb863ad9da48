"""The risk consumer: group `risk` on the household-events topic, `getmany` batches, one database
transaction per batch, assessments published after the commit, offsets committed after that. Under a
backlog one transaction takes several batches already fetched (up to `max_transaction_records` and
`max_transaction_households`), so a
household is scored once per transaction; the households it scored stay in memory (HouseholdCache) for
the next one until partitions move.

Crash anywhere and the batch is redelivered: facts are idempotent by event id, so a replay stores and
scores nothing twice; assessments committed but not yet published are swept out by whichever consumer
(the restarted one or a surviving replica) is next assigned the household's partition.
Poison records go to `<topic>.dlq.risk` and the consumer keeps going.

Standalone: `python -m safetynet_risk.consumer`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)

from safetynet_core import kafka
from safetynet_core.contracts import PoisonRecord, now_utc
from safetynet_core.db import Database, raw_transaction
from safetynet_core.kafka import ConsumerStalled, MembershipWatch
from safetynet_core.logging import configure_logging, get_logger
from safetynet_core.policy import Policy, load_policy
from safetynet_risk import batch, metrics, store
from safetynet_risk.cache import HouseholdCache
from safetynet_risk.info import SERVICE
from safetynet_risk.messages import Incoming, NotScored, assessment_message, decode
from safetynet_risk.settings import Settings

log = get_logger(__name__)
STORE_ATTEMPTS = 3
POLL_AHEAD_WAIT_MS = 10  # how long one fetch while a transaction runs waits for records
DECODE_SLICE = 500  # records decoded between yields to a running transaction
# Test hook: awaited at "before_db_commit", "after_db_commit" and "after_publish"; raising simulates a crash.
FaultHook = Callable[[str], Awaitable[None]]


class _Rebalance(ConsumerRebalanceListener):
    """Before partitions are given up, the batch being published finishes and its offsets are committed.
    The household cache is dropped on every change of partitions (another consumer may have written, or
    may now write, the households it holds). Assigned partitions are handed to `assigned` (their unpublished
    assessments are swept out before anything newer is published)."""

    def __init__(
        self,
        drain: Callable[[], Awaitable[None]],
        cache: HouseholdCache,
        assigned: Callable[[set[TopicPartition]], None],
    ) -> None:
        self._drain = drain
        self._cache = cache
        self._assigned = assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._cache.clear()
        await self._drain()
        self._cache.clear()
        log.info("partitions_revoked", partitions=sorted(tp.partition for tp in revoked))
        for tp in revoked:
            with contextlib.suppress(KeyError):  # no lag recorded yet for this partition
                metrics.CONSUMER_LAG.remove(str(tp.partition))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._cache.clear()
        self._assigned(assigned)
        log.info("partitions_assigned", partitions=sorted(tp.partition for tp in assigned))


class RiskConsumer:
    """Consumes household events, scores households, publishes assessments."""

    def __init__(self, settings: Settings, db: Database, policy: Policy, fault: FaultHook | None = None) -> None:
        self._settings = settings
        self._db = db
        self._policy = policy
        self._fault = fault
        self.batches = 0
        self.consumed = 0
        self._publishing: asyncio.Task[None] | None = None
        self._progress_at = time.monotonic()
        self.membership = MembershipWatch(settings.stall_seconds)
        self.cache = HouseholdCache(settings.household_cache_size, settings.household_cache_facts)
        self._to_sweep: set[TopicPartition] = set()  # assigned, their unpublished backlog not yet swept

    async def _hook(self, stage: str) -> None:
        if self._fault is not None:
            await self._fault(stage)

    async def _decode_all(self, records: Sequence[ConsumerRecord], dead_letters: kafka.DeadLetters) -> list[Incoming]:
        incoming = []
        for record in records:
            try:
                incoming.append(decode(record.value))
            except NotScored:
                metrics.EVENTS.labels("not_scored").inc()
            except PoisonRecord as poison:
                await dead_letters.send(record, poison.reason, str(poison))
                metrics.DEAD_LETTERS.labels(poison.reason).inc()
                metrics.EVENTS.labels("dead_lettered").inc()
        return incoming

    async def publish(self, producer: AIOKafkaProducer, rows: Sequence[dict[str, Any]]) -> None:
        """Send assessments (keyed by household), wait for acks, then mark them published."""
        if not rows:
            return

        topic = self._settings.topic_risk_assessments

        async def send_all() -> None:
            messages = ((topic, row["household_id"].encode(), assessment_message(row)) for row in rows)
            await asyncio.gather(*await kafka.send_keyed(producer, messages))

        await asyncio.wait_for(send_all(), self._settings.publish_timeout_seconds)
        async with raw_transaction(self._db) as conn:
            await store.mark_published(conn, [row["assessment_id"] for row in rows])
        metrics.PUBLISHED.inc(len(rows))

    async def publish_backlog(self, producer: AIOKafkaProducer, partitions: set[int], of_partitions: int) -> int:
        """Publish assessments committed but never sent (their consumer crashed, or stopped, in between) of the
        households on `partitions` of the household-events topic (`of_partitions` in all): the ones this
        consumer was just assigned, so no other consumer publishes newer assessments of them meanwhile."""
        total = 0
        after: tuple[datetime, str] | None = None
        while True:
            async with raw_transaction(self._db) as conn:
                rows = await store.unpublished(conn, after)
            if not rows:
                return total
            after = rows[-1]["assessed_at"], rows[-1]["assessment_id"]
            mine = [r for r in rows if kafka.partition_for(r["household_id"].encode(), of_partitions) in partitions]
            await self.publish(producer, mine)
            total += len(mine)

    async def _sweep_assigned(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        """Publish the backlog of the partitions assigned since the last sweep."""
        topic = self._settings.topic_household_events
        partitions = {tp.partition for tp in self._to_sweep if tp.topic == topic}
        self._to_sweep.clear()  # the same set the rebalance listener adds to
        of_partitions = len(consumer.partitions_for_topic(topic) or ())
        if partitions and of_partitions:
            swept = await self.publish_backlog(producer, partitions, of_partitions)
            if swept:
                log.warning("unpublished_assessments_swept", count=swept, partitions=sorted(partitions))

    async def store_batch(self, incoming: Sequence[Incoming]) -> batch.BatchOutcome:
        """Store and score one decoded batch in one transaction (retried when a concurrent consumer, e.g.
        during a rebalance, stored some of its events first: the retry sees them as duplicates)."""
        for attempt in range(1, STORE_ATTEMPTS + 1):
            generation = self.cache.generation
            try:
                with _collector_paused(self._settings.pause_gc_in_transactions):
                    async with raw_transaction(self._db) as conn:
                        outcome = await batch.process_batch(conn, incoming, self._policy, now_utc(), self.cache)
                        await self._hook("before_db_commit")
            except store.ConcurrentWrite as exc:
                self.cache.clear()  # another consumer writes these households: trust nothing cached
                if attempt == STORE_ATTEMPTS:
                    raise
                log.warning("batch_retried", attempt=attempt, error=str(exc))
                continue
            self.cache.apply(outcome.cache_updates, generation)  # only once committed
            return outcome
        raise AssertionError("unreachable")

    async def handle(
        self, records: Sequence[ConsumerRecord], dead_letters: kafka.DeadLetters, producer: AIOKafkaProducer
    ) -> batch.BatchOutcome:
        """Store, score and commit one batch in one transaction, then publish its assessments."""
        started = time.perf_counter()
        outcome = await self.store_batch(await self._decode_all(records, dead_letters))
        await self._hook("after_db_commit")
        await self.publish(producer, outcome.assessments)
        await self._hook("after_publish")
        self._count(outcome, len(records))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        return outcome

    @staticmethod
    def _count(outcome: batch.BatchOutcome, size: int) -> None:
        metrics.BATCH_SIZE.observe(size)
        metrics.EVENTS.labels("stored").inc(outcome.new_facts)
        metrics.EVENTS.labels("duplicate").inc(outcome.duplicates)
        metrics.EVENTS.labels("waiting_for_registry").inc(outcome.waiting)
        assessed: Counter[tuple[str, str]] = Counter()
        warned: Counter[str] = Counter()
        flags = 0
        for row in outcome.assessments:
            assessed[row["level"], row["category"] or "none"] += 1
            flags += row["opens_case"]
            warned.update(row["warnings"])
        for labels, count in assessed.items():
            metrics.ASSESSMENTS.labels(*labels).inc(count)
        if flags:
            metrics.FLAGS.inc(flags)
        for rule, count in warned.items():
            metrics.WARNINGS.labels(rule).inc(count)

    @staticmethod
    async def _record_lag(consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(highwater - await consumer.position(tp), 0))

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until cancelled (or `stop` is set); a loop that makes no progress for `stall_seconds`
        (a Kafka client wedged after a broker restart) is cancelled and raises ConsumerStalled, so the
        supervisor restarts it with fresh clients."""
        self._progress_at = time.monotonic()
        consuming = asyncio.create_task(self._consume(stop))
        raised = _raise_gc_threshold(self._settings.gc_young_threshold)
        try:
            while True:
                done, _ = await asyncio.wait({consuming}, timeout=1.0)
                if done:
                    if consuming.cancelled():
                        raise ConsumerStalled("the consume loop was cancelled from inside (a Kafka client died)")
                    return consuming.result()
                stalled_for = time.monotonic() - self._progress_at
                if stalled_for > self._settings.stall_seconds:
                    consuming.cancel()
                    await asyncio.gather(consuming, return_exceptions=True)
                    raise ConsumerStalled(f"no progress for {stalled_for:.0f} s")
        finally:
            if raised:
                _restore_gc_threshold()
            if not consuming.done():
                consuming.cancel()
                await asyncio.gather(consuming, return_exceptions=True)

    async def _consume(self, stop: asyncio.Event | None) -> None:
        """The consume loop; an idle loop checks that it is still a working group member (MembershipWatch).

        Pipelined without changing the order of commits for any one batch (database commit, then publish,
        then offsets): while batch N's transaction runs, the next records are fetched and decoded; batch
        N's assessments are published, and then its offsets committed, in the background while batch N+1
        is stored; batch N+1's publishing starts only after batch N's finished, so per-household order on
        the topic and the order of offset commits hold. A failed publish stops the consumer (the batch is
        redelivered and its assessments swept out by `publish_backlog` once its partitions are assigned again)."""
        settings = self._settings
        consumer = kafka.make_consumer(settings, settings.consumer_group, max_poll_records=settings.consume_batch)
        self.cache.clear()  # a (re)started consumer trusts nothing cached before
        consumer.subscribe(
            [settings.topic_household_events], listener=_Rebalance(self.drain, self.cache, self._to_sweep.update)
        )
        producer = kafka.make_producer(settings)
        await producer.start()
        publishing: asyncio.Task[None] | None = None
        try:
            await consumer.start()
            self.membership.fetched()
            dead_letters = kafka.DeadLetters(producer, settings, SERVICE.name)
            ahead: tuple[list[ConsumerRecord], list[Incoming]] | None = None
            while stop is None or not stop.is_set():
                self._progress_at = time.monotonic()
                if publishing is not None and publishing.done():
                    publishing.result()  # raise a failed publish
                    publishing = None
                if ahead is None:
                    records = await self._poll(
                        consumer,
                        settings.consume_timeout_ms,
                        min(settings.consume_batch, settings.max_transaction_records),
                    )
                    ahead = records, await self._decode_all(records, dead_letters)
                records, incoming = ahead
                ahead = None
                if self._to_sweep:  # before this consumer publishes anything newer for those partitions
                    if publishing is not None:
                        await publishing
                        publishing = None
                    await self._sweep_assigned(consumer, producer)
                if records:  # under a backlog, one transaction takes what is already fetched
                    await self._top_up(consumer, dead_letters, records, incoming)
                if not records:
                    await self.membership.idle(consumer)
                if records:
                    self.membership.fetched()
                    started = time.perf_counter()
                    stored = asyncio.Event()
                    polling = asyncio.create_task(self._poll_ahead(consumer, dead_letters, stored))
                    try:
                        outcome = await self.store_batch(incoming)
                    except BaseException:
                        polling.cancel()
                        await asyncio.gather(polling, return_exceptions=True)
                        raise
                    stored.set()
                    ahead = await polling
                    await self._hook("after_db_commit")
                    if publishing is not None:
                        await publishing
                    publishing = asyncio.create_task(self._finish(consumer, producer, records, outcome, started))
                    self._publishing = publishing
                await self._record_lag(consumer)
            if publishing is not None:
                await publishing
        finally:
            if publishing is not None and not publishing.done():
                publishing.cancel()
                await asyncio.gather(publishing, return_exceptions=True)
            await kafka.stop_clients(consumer, producer)

    @staticmethod
    async def _poll(consumer: AIOKafkaConsumer, timeout_ms: int, max_records: int) -> list[ConsumerRecord]:
        batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return [record for partition in batches.values() for record in partition]

    async def _poll_ahead(
        self, consumer: AIOKafkaConsumer, dead_letters: kafka.DeadLetters, stored: asyncio.Event
    ) -> tuple[list[ConsumerRecord], list[Incoming]] | None:
        """The next transaction's records, fetched and decoded while the current one runs (until `stored`
        is set or `max_transaction_records` are in hand); None if none."""
        records: list[ConsumerRecord] = []
        incoming: list[Incoming] = []
        households: set[bytes | None] = set()
        while not stored.is_set() and self._has_room(records, households):
            await self._top_up(consumer, dead_letters, records, incoming, POLL_AHEAD_WAIT_MS, households)
        return (records, incoming) if records else None

    def _has_room(self, records: Sequence[ConsumerRecord], households: set[bytes | None]) -> bool:
        """Whether one transaction may take more records (bounded in records and in households)."""
        settings = self._settings
        return len(records) < settings.max_transaction_records and len(households) < settings.max_transaction_households

    async def _top_up(
        self,
        consumer: AIOKafkaConsumer,
        dead_letters: kafka.DeadLetters,
        records: list[ConsumerRecord],
        incoming: list[Incoming],
        timeout_ms: int = 0,
        households: set[bytes | None] | None = None,
    ) -> None:
        """Add records already fetched (waiting at most `timeout_ms` for the first) to one transaction's, up
        to `max_transaction_records`, and until it holds `max_transaction_households` (`households`: the keys
        of `records`, kept up to date here); decoded in slices so a running transaction is not held up long."""
        limit = self._settings.max_transaction_records
        if households is None:
            households = {record.key for record in records}
        while self._has_room(records, households):
            more = await self._poll(consumer, timeout_ms, min(self._settings.consume_batch, limit - len(records)))
            if not more:
                return
            timeout_ms = 0
            records.extend(more)
            households.update(record.key for record in more)
            for start in range(0, len(more), DECODE_SLICE):
                incoming.extend(await self._decode_all(more[start : start + DECODE_SLICE], dead_letters))
                await asyncio.sleep(0)

    async def _finish(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        records: Sequence[ConsumerRecord],
        outcome: batch.BatchOutcome,
        started: float,
    ) -> None:
        """Publish a committed batch's assessments, then commit its offsets."""
        await self.publish(producer, outcome.assessments)
        await self._hook("after_publish")
        assigned = consumer.assignment()
        offsets = {tp: offset for tp, offset in _next_offsets(records).items() if tp in assigned}
        if offsets:
            await asyncio.wait_for(consumer.commit(offsets), self._settings.publish_timeout_seconds)
        self._count(outcome, len(records))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        self.batches += 1
        self.consumed += len(records)

    async def drain(self) -> None:
        """Wait for the batch being published (and its offsets committed); a rebalance calls this before
        giving partitions up. A failure is left for the consume loop to raise."""
        publishing = self._publishing
        if publishing is not None and not publishing.done():
            await asyncio.wait({publishing}, timeout=self._settings.publish_timeout_seconds)


_gc_raised: list[tuple[int, ...]] = []  # Python's thresholds, once per running consumer that raised them


def _raise_gc_threshold(young: int) -> bool:
    """Raise the collector's young-generation threshold while a consumer runs: a batch allocates (and mostly
    frees) millions of small objects while the household cache keeps many alive, and with Python's default
    of 700 the collector takes a fifth of the CPU. Restored when the last running consumer stops."""
    if not young:
        return False
    thresholds = _gc_raised[0] if _gc_raised else gc.get_threshold()
    _gc_raised.append(thresholds)
    gc.set_threshold(max(thresholds[0], young), *thresholds[1:])
    return True


def _restore_gc_threshold() -> None:
    thresholds = _gc_raised.pop()
    if not _gc_raised:
        gc.set_threshold(*thresholds)


@contextlib.contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    """Pause the cyclic garbage collector for one transaction: a batch allocates millions of objects that
    mostly live until it ends, which the collector would otherwise scan over and over (a fifth of the CPU).
    Refcounting still frees what dies; cycles wait for the collector to resume. Resumes only if this paused
    it (another consumer in the process may be inside its own transaction)."""
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _next_offsets(records: Sequence[ConsumerRecord]) -> dict[TopicPartition, int]:
    """The offsets to commit once `records` are stored: one past the last record of each partition."""
    ends: dict[tuple[str, int], int] = {}
    for record in records:
        key = record.topic, record.partition
        if record.offset >= ends.get(key, 0):
            ends[key] = record.offset + 1
    return {TopicPartition(topic, partition): end for (topic, partition), end in ends.items()}


async def main() -> None:
    """Run the consumer alone, without HTTP (`make bench`'s stage costs; a consumer-only deployment), restarting
    it with backoff when it crashes. The policy is loaded once, here, as `create_app` does for the service."""
    from safetynet_core.service import supervise

    settings = Settings()
    configure_logging(SERVICE.name, settings.log_level, settings.log_json)
    db = Database(settings, settings.db_schema or SERVICE.schema)
    try:
        await supervise("risk-consumer", RiskConsumer(settings, db, load_policy(settings.policy_file)).run)
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())

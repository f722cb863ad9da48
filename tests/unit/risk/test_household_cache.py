"""The consumer's household cache and group commit, without Kafka or Postgres: the cache is filled only by
committed transactions, never serves a household after a rebalance or a concurrent write, and one
transaction takes what is already fetched up to `max_transaction_records`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import TopicPartition

from safetynet_core.policy import load_policy
from safetynet_core.settings import DEFAULT_POLICY_FILE
from safetynet_risk import batch, store
from safetynet_risk import consumer as consumer_module
from safetynet_risk.cache import CachedHousehold, HouseholdCache
from safetynet_risk.consumer import RiskConsumer, _Rebalance
from safetynet_risk.settings import Settings
from safetynet_risk.state import Member, PreparedFact, RegistryRecord, StoredFact

NOW = datetime(2026, 6, 30, tzinfo=UTC)
POLICY = load_policy(DEFAULT_POLICY_FILE).risk


def entry(household_id: str, max_seq: int = 1) -> CachedHousehold:
    registry = RegistryRecord(household_id, "610327101201", "lifted", 30_000.0, (Member("m0"),), NOW)
    return CachedHousehold(registry=registry, events=(), max_seq=max_seq)


def test_the_cache_is_a_bounded_lru() -> None:
    cache = HouseholdCache(2)
    assert cache.apply({"H1": entry("H1"), "H2": entry("H2")}, cache.generation)
    assert cache.get("H1") is not None  # H1 now most recently used
    cache.apply({"H3": entry("H3")}, cache.generation)
    assert len(cache) == 2 and "H2" not in cache
    assert cache.get("H1") is not None and cache.get("H3") is not None and cache.get("H2") is None


def with_facts(household_id: str, facts: int) -> CachedHousehold:
    fact = StoredFact(f"{household_id}-e", "unemployment", NOW, {"previous_monthly_wage_cny": 3500})
    return CachedHousehold(entry(household_id).registry, (PreparedFact(fact, POLICY),) * facts, max_seq=1)


def test_the_cache_evicts_the_least_recently_used_households_to_its_facts_bound() -> None:
    cache = HouseholdCache(100, max_facts=10)
    cache.apply({"H1": with_facts("H1", 4), "H2": with_facts("H2", 4)}, cache.generation)
    assert cache.facts == 8
    cache.get("H1")  # H2 is now the least recently used
    cache.apply({"H3": with_facts("H3", 5)}, cache.generation)
    assert cache.facts == 9 and "H2" not in cache and "H1" in cache and "H3" in cache
    cache.apply({"H1": with_facts("H1", 6)}, cache.generation)  # a household's facts grow: counted once
    assert cache.facts <= 10 and "H1" in cache and "H3" not in cache
    cache.apply({"H4": with_facts("H4", 11)}, cache.generation)  # more than the whole bound: never cached
    assert "H4" not in cache and cache.facts == 6


def test_the_default_bounds_keep_the_cache_under_200_mib() -> None:
    """At the measured 750 bytes a cached fact and 1.5 KB a household (settings.py)."""
    settings = Settings()
    assert settings.household_cache_facts * 750 + settings.household_cache_size * 1536 <= 200 * 2**20


def test_a_disabled_cache_keeps_nothing() -> None:
    cache = HouseholdCache(0)
    assert not cache.apply({"H1": entry("H1")}, cache.generation)
    assert cache.get("H1") is None


def test_updates_from_a_transaction_that_started_before_a_clear_are_refused() -> None:
    cache = HouseholdCache(10)
    started = cache.generation
    cache.clear()  # e.g. partitions revoked while the transaction ran
    assert not cache.apply({"H1": entry("H1")}, started)
    assert cache.get("H1") is None
    assert cache.apply({"H1": entry("H1")}, cache.generation)


async def test_a_rebalance_empties_the_cache() -> None:
    cache = HouseholdCache(10)
    drained = []

    async def drain() -> None:
        drained.append(len(cache))

    to_sweep: set[TopicPartition] = set()
    listener = _Rebalance(drain, cache, to_sweep.update)
    tp = TopicPartition("household-events", 0)
    for change in (listener.on_partitions_revoked, listener.on_partitions_assigned):
        cache.apply({"H1": entry("H1")}, cache.generation)
        await change({tp})
        assert cache.get("H1") is None
    assert drained == [0]  # cleared before the drain too
    assert to_sweep == {tp}  # the assigned partitions' unpublished assessments are swept next


class _Transactions:
    """Stands in for `raw_transaction` and `batch.process_batch`: each batch's outcome, or an exception."""

    def __init__(self, *results: Any) -> None:
        self.results = list(results)
        self.committed = 0
        self.caches: list[HouseholdCache | None] = []

    @contextlib.asynccontextmanager
    async def transaction(self, _db: Any) -> AsyncIterator[None]:
        yield None  # an exception inside rolls back: nothing counted
        self.committed += 1

    async def process_batch(self, _conn: Any, _incoming: Any, _policy: Any, _now: Any, cache: Any = None) -> Any:
        self.caches.append(cache)
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result


def outcome(*household_ids: str) -> batch.BatchOutcome:
    return batch.BatchOutcome(
        new_facts=len(household_ids),
        duplicates=0,
        waiting=0,
        assessments=[],
        cache_updates={h: entry(h) for h in household_ids},
    )


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(*results: Any) -> _Transactions:
        fake = _Transactions(*results)
        monkeypatch.setattr(consumer_module, "raw_transaction", fake.transaction)
        monkeypatch.setattr(batch, "process_batch", fake.process_batch)
        return fake

    return install


async def test_a_committed_transaction_fills_the_cache(patched: Any) -> None:
    fake = patched(outcome("H1", "H2"))
    risk = RiskConsumer(Settings(), db=None, policy=object())  # type: ignore[arg-type]
    await risk.store_batch([])
    assert fake.committed == 1 and fake.caches == [risk.cache]
    assert risk.cache.get("H1") is not None and risk.cache.get("H2") is not None


async def test_a_failed_transaction_leaves_the_cache_unchanged(patched: Any) -> None:
    patched(outcome("H2"), outcome("H3"))

    async def crash(stage: str) -> None:
        if stage == "before_db_commit":
            raise RuntimeError("injected crash")

    risk = RiskConsumer(Settings(), db=None, policy=object(), fault=crash)  # type: ignore[arg-type]
    risk.cache.apply({"H1": entry("H1", max_seq=7)}, risk.cache.generation)
    with pytest.raises(RuntimeError, match="injected crash"):
        await risk.store_batch([])
    assert len(risk.cache) == 1 and risk.cache.get("H2") is None
    cached = risk.cache.get("H1")
    assert cached is not None and cached.max_seq == 7


async def test_a_concurrent_write_empties_the_cache_before_the_retry(patched: Any) -> None:
    fake = patched(store.ConcurrentWrite("2 stored concurrently"), outcome("H2"))
    risk = RiskConsumer(Settings(), db=None, policy=object())  # type: ignore[arg-type]
    risk.cache.apply({"H1": entry("H1")}, risk.cache.generation)
    await risk.store_batch([])
    assert fake.committed == 1
    assert risk.cache.get("H1") is None  # another writer touched these households: nothing kept
    assert risk.cache.get("H2") is not None  # what the retry committed


async def test_a_rebalance_during_a_transaction_keeps_its_results_out_of_the_cache(
    patched: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    risk = RiskConsumer(Settings(), db=None, policy=object())  # type: ignore[arg-type]
    fake = patched(outcome("H1"))
    real = fake.process_batch

    async def rebalanced_meanwhile(*args: Any, **kwargs: Any) -> Any:
        result = await real(*args, **kwargs)
        await _Rebalance(_nothing, risk.cache, set().update).on_partitions_revoked({TopicPartition("t", 0)})
        return result

    monkeypatch.setattr(batch, "process_batch", rebalanced_meanwhile)
    await risk.store_batch([])
    assert fake.committed == 1 and risk.cache.get("H1") is None


async def _nothing() -> None:
    return None


class _Fetched:
    """Stands in for AIOKafkaConsumer.getmany: hands out what is 'already fetched', `max_records` at most."""

    def __init__(self, count: int) -> None:
        self.pending = [_Record(offset) for offset in range(count)]
        self.calls: list[tuple[int, int]] = []

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, list[Any]]:
        self.calls.append((timeout_ms, max_records or 0))
        taken, self.pending = self.pending[: max_records or None], self.pending[max_records or len(self.pending) :]
        return {TopicPartition("t", 0): taken} if taken else {}


class _Record:
    def __init__(self, offset: int, households: int = 1_000_000) -> None:
        self.offset = offset
        self.key = f"H{offset % households}".encode()
        self.value = b""


async def test_one_transaction_takes_what_is_already_fetched_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    risk = RiskConsumer(Settings(consume_batch=100, max_transaction_records=250), db=None, policy=None)  # type: ignore[arg-type]

    async def decode_all(records: Any, _dead_letters: Any) -> list[Any]:
        return [record.offset for record in records]

    monkeypatch.setattr(risk, "_decode_all", decode_all)
    fetched = _Fetched(1000)
    records: list[Any] = []
    incoming: list[Any] = []
    await risk._top_up(fetched, None, records, incoming)  # type: ignore[arg-type]
    assert len(records) == 250 and incoming == list(range(250))
    assert [size for _, size in fetched.calls] == [100, 100, 50]  # never more than the limit
    assert all(timeout == 0 for timeout, _ in fetched.calls)  # nothing waited for

    quiet = _Fetched(30)
    records, incoming = [], []
    await risk._top_up(quiet, None, records, incoming)  # type: ignore[arg-type]
    assert len(records) == 30  # a quiet topic: a small transaction, at once
    assert quiet.calls == [(0, 100), (0, 100)]


async def test_one_transaction_stops_taking_records_once_it_holds_its_households(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(consume_batch=100, max_transaction_records=10_000, max_transaction_households=250)
    risk = RiskConsumer(settings, db=None, policy=None)  # type: ignore[arg-type]

    async def decode_all(records: Any, _dead_letters: Any) -> list[Any]:
        return [record.offset for record in records]

    monkeypatch.setattr(risk, "_decode_all", decode_all)
    many = _Fetched(5000)  # every record a household of its own
    records: list[Any] = []
    await risk._top_up(many, None, records, [])  # type: ignore[arg-type]
    assert len(records) == 300  # three fetches: the third crossed the bound, the fourth was not made
    few = _Fetched(0)
    few.pending = [_Record(offset, households=50) for offset in range(5000)]  # 50 households, many events each
    records = []
    await risk._top_up(few, None, records, [])  # type: ignore[arg-type]
    assert len(records) == 5000  # the records bound never reached, the households bound neither

    # Fetching ahead while a transaction runs ends there too (the transaction not yet stored).
    taken = await risk._poll_ahead(_Fetched(5000), None, asyncio.Event())  # type: ignore[arg-type]
    assert taken is not None and len(taken[0]) == 300


def test_the_cache_is_bounded_in_facts_too() -> None:
    cache = HouseholdCache(10, max_facts=5)
    facts = tuple(range(3))
    big = {h: CachedHousehold(entry(h).registry, facts, 1) for h in ("H1", "H2")}  # type: ignore[arg-type]
    cache.apply(big, cache.generation)
    assert len(cache) == 1 and "H2" in cache and cache.facts == 3  # H1 evicted: 6 facts > 5
    cache.apply({"H2": entry("H2")}, cache.generation)  # replaced by an entry holding none
    assert cache.facts == 0
    cache.apply({"H3": CachedHousehold(entry("H3").registry, tuple(range(9)), 1)}, cache.generation)  # type: ignore[arg-type]
    assert "H3" not in cache  # more than the whole cache may hold: not kept


def test_the_collector_threshold_is_restored_when_the_last_consumer_stops() -> None:
    import gc

    from safetynet_risk.consumer import _raise_gc_threshold, _restore_gc_threshold

    before = gc.get_threshold()
    assert _raise_gc_threshold(50_000) and _raise_gc_threshold(60_000)
    assert gc.get_threshold()[0] == max(before[0], 60_000)
    _restore_gc_threshold()
    assert gc.get_threshold()[0] != before[0] or before[0] >= 60_000  # the other consumer still runs
    _restore_gc_threshold()
    assert gc.get_threshold() == before
    assert not _raise_gc_threshold(0)

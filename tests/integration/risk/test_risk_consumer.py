"""The risk consumer against real Kafka and Postgres: events in, explained assessments out, replay-safe,
crash-safe, poison to the DLQ; and the read API on top."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from safetynet.v1 import risk_assessments_pb2 as rpb
from safetynet_core import kafka
from safetynet_core.auth import Principal, Role, issue_token
from safetynet_core.contracts import HouseholdEvent, now_utc
from safetynet_core.db import Database, raw_transaction
from safetynet_core.kafka import header
from safetynet_core.policy import load_policy
from safetynet_core.settings import DEFAULT_POLICY_FILE
from safetynet_core.testing import eventually, serve, unique
from safetynet_risk.consumer import RiskConsumer
from safetynet_risk.info import SERVICE
from safetynet_risk.main import create_app
from safetynet_risk.messages import department_event, registry_record
from safetynet_risk.settings import Settings

POLICY = load_policy(DEFAULT_POLICY_FILE)

pytestmark = pytest.mark.integration
VILLAGE = "610327101201"
NOW = now_utc()


@pytest.fixture
async def settings(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> Settings:
    built: Settings = isolated_settings(
        Settings, consumer_group=unique("risk"), consume_timeout_ms=200, consume_batch=50
    )
    await provision(built, SERVICE)
    return built


async def produce(settings: Settings, messages: list[tuple[str, bytes]]) -> None:
    producer = kafka.make_producer(settings)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(settings.topic_household_events, value=value, key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()


class TopicReader:
    """Reads a topic from the beginning, accumulating what it has seen."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.records: list[Any] = []
        self._consumer: AIOKafkaConsumer = kafka.make_consumer(settings, unique("reader"), topic)

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def poll(self) -> list[Any]:
        batches = await self._consumer.getmany(timeout_ms=200)
        self.records.extend(r for rs in batches.values() for r in rs)
        return self.records

    async def assessments(self) -> list[rpb.RiskAssessment]:
        await self.poll()
        return decoded(self)


def decoded(reader: TopicReader) -> list[rpb.RiskAssessment]:
    return [rpb.RiskAssessment.FromString(r.value) for r in reader.records]


@contextlib.asynccontextmanager
async def running(consumer: RiskConsumer) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(consumer.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            await task


def scenario() -> list[tuple[str, bytes]]:
    """Two worked examples and a household whose event arrives before its registry record."""
    earlier = NOW - timedelta(days=5)
    return [
        ("H1", registry_record("r1", "H1", VILLAGE, "lifted", 30_000, 4, earlier)),
        (
            "H1",
            department_event(
                "e1",
                "H1",
                "medical_expense",
                {"total_cost_cny": 9000, "out_of_pocket_cny": 6000, "inpatient": False},
            ),
        ),
        ("H2", registry_record("r2", "H2", VILLAGE, "general", 40_000, 4, earlier)),
        (
            "H2",
            department_event(
                "e2",
                "H2",
                "disaster_loss",
                {"disaster_type": "earthquake", "loss_cny": 60_000, "housing_damage": "destroyed"},
            ),
        ),
        ("H3", department_event("e3", "H3", "school_dropout", {"grade": 8}, earlier)),
        ("H3", registry_record("r3", "H3", "610327102001", "general", 100_000, 3)),
    ]


def by_event(assessments: list[rpb.RiskAssessment]) -> Counter[str]:
    return Counter(event_id for a in assessments for event_id in a.event_ids)


async def count_rows(db: Database, table: str) -> int:
    async with raw_transaction(db) as conn:
        return int(await conn.fetchval(f"select count(*) from {table}"))


async def test_events_become_explained_assessments(settings: Settings) -> None:
    """Through the app: the consumer runs in the lifespan."""
    await produce(settings, scenario())
    async with TopicReader(settings, settings.topic_risk_assessments) as reader, serve(create_app(settings)):

        async def all_events_assessed() -> bool:
            return set(by_event(await reader.assessments())) >= {"r1", "e1", "r2", "e2", "e3", "r3"}

        await eventually(all_events_assessed, message="every event assessed")
    latest = {a.household_id: a for a in decoded(reader)}
    h1, h2, h3 = latest["H1"], latest["H2"], latest["H3"]
    assert (h1.category, h1.level, h1.opens_case) == ("unstable_lifted", "high", True)
    assert "medical_trailing" in h1.warnings and {r.rule for r in h1.reasons} >= {"medical_warning"}
    assert h1.income_pc == 7500 and h1.adjusted_income_pc == 6000 and h1.poverty_status == "lifted"
    assert (h2.category, h2.level, h2.score) == ("sudden_hardship", "critical", 100)
    assert h2.region_code == VILLAGE and h2.policy_version == "2026.1"
    assert "e3" in h3.event_ids and h3.warnings == ["school_dropout"]  # kept until the registry arrived
    assert any("辍学" in r.reason_zh for r in h3.reasons)


async def test_replay_from_offset_zero_creates_no_second_assessment(settings: Settings, db: Database) -> None:
    await produce(settings, scenario())
    first = RiskConsumer(settings, db, POLICY)
    async with running(first):
        await eventually(lambda: _consumed(first, 6), message="first pass consumed")
    stored = await count_rows(db, "assessments")
    replay = RiskConsumer(settings.model_copy(update={"consumer_group": unique("replay")}), db, POLICY)
    async with running(replay):
        await eventually(lambda: _consumed(replay, 6), message="replay consumed")
    assert await count_rows(db, "assessments") == stored
    async with TopicReader(settings, settings.topic_risk_assessments) as reader:
        await eventually(lambda: _at_least(reader, stored), message="assessments readable")
        await reader.poll()
        assert len(reader.records) == stored
        assert set(by_event(await reader.assessments()).values()) == {1}


@pytest.mark.parametrize("stage", ["before_db_commit", "after_db_commit", "after_publish"])
async def test_a_crash_mid_batch_loses_nothing_and_duplicates_nothing(
    settings: Settings, db: Database, stage: str
) -> None:
    messages = scenario()
    await produce(settings, messages)

    async def crash_once(at: str) -> None:
        if at == stage:
            raise RuntimeError(f"injected crash at {at}")

    crashing = RiskConsumer(settings, db, POLICY, fault=crash_once)
    with pytest.raises(RuntimeError, match="injected crash"):
        await asyncio.wait_for(crashing.run(), timeout=60)
    restarted = RiskConsumer(settings, db, POLICY)
    async with TopicReader(settings, settings.topic_risk_assessments) as reader, running(restarted):

        async def all_assessed_once() -> bool:
            counts = by_event(await reader.assessments())
            return set(counts) == {"r1", "e1", "r2", "e2", "e3", "r3"}

        await eventually(all_assessed_once, message="every event assessed after restart")
        await eventually(lambda: _consumed(restarted, 1), message="restarted consumer caught up")
        await reader.poll()
        counts = by_event(await reader.assessments())
    assert set(counts.values()) == {1}, counts
    async with raw_transaction(db) as conn:
        assert await conn.fetchval("select count(*) from facts") == len(messages)
        assert await conn.fetchval("select count(*) from facts where assessment_id is null") == 0
        assert await conn.fetchval("select count(*) from assessments where published_at is null") == 0


async def test_a_surviving_replica_publishes_what_a_crashed_one_committed(settings: Settings, db: Database) -> None:
    """Two consumers in one group: the one that crashes between its database commit and its publish leaves
    assessments unpublished; the survivor, assigned the partitions, publishes them (no restart needed)."""
    messages = [(f"H{i}", registry_record(f"r{i}", f"H{i}", VILLAGE, "general", 30_000, 3)) for i in range(12)]
    await produce(settings, messages)
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold_then_crash(at: str) -> None:
        if at == "before_db_commit" and not release.is_set():
            holding.set()
            await release.wait()  # the batch's transaction stays open while the survivor joins
        elif at == "after_db_commit":
            raise RuntimeError("injected crash after the commit")

    crashing = RiskConsumer(settings, db, POLICY, fault=hold_then_crash)
    crash = asyncio.create_task(crashing.run())
    await asyncio.wait_for(holding.wait(), 60)
    generation = crashing.cache.generation  # cleared by every rebalance
    survivor = RiskConsumer(settings, db, POLICY)
    async with TopicReader(settings, settings.topic_risk_assessments) as reader, running(survivor):
        await eventually(lambda: _rebalanced(crashing, generation), message="the survivor joined the group")
        release.set()
        with pytest.raises(RuntimeError, match="injected crash"):
            await asyncio.wait_for(crash, timeout=60)

        async def each_assessed_and_marked() -> bool:
            assessed = set(by_event(await reader.assessments())) == {f"r{i}" for i in range(12)}
            return assessed and await count_rows(db, "assessments where published_at is null") == 0

        await eventually(each_assessed_and_marked, timeout=60, message="the crashed consumer's assessments published")


async def _rebalanced(consumer: RiskConsumer, generation: int) -> bool:
    return consumer.cache.generation > generation


async def test_poison_messages_go_to_the_dlq_and_the_consumer_keeps_going(
    settings: Settings, db: Database
) -> None:
    wrong_version = HouseholdEvent.FromString(registry_record("p2", "H7", VILLAGE, "general", 1, 1))
    wrong_version.schema_version = 99
    poison = [
        ("H7", b"\xff\xff\xff not protobuf"),
        ("H7", wrong_version.SerializeToString()),
        ("H7", department_event("p3", "H7", "alien_abduction", {})),
        ("H7", department_event("p4", "H7", "medical_expense", {"out_of_pocket_cny": -5})),
    ]
    good = [
        ("H8", registry_record("g1", "H8", VILLAGE, "lifted", 8_000, 2)),
        ("H8", department_event("g2", "H8", "grid_report", {"risk_types": ["illness"], "notes": ""})),
    ]
    await produce(settings, poison + good)
    dlq_topic = settings.dlq_topic(settings.topic_household_events, "risk")
    async with (
        TopicReader(settings, dlq_topic) as dlq,
        TopicReader(settings, settings.topic_risk_assessments) as out,
        running(RiskConsumer(settings, db, POLICY)),
    ):
        await eventually(lambda: _at_least(dlq, 4), message="poison dead-lettered")
        await eventually(lambda: _event_assessed(out, "g2"), message="good events still assessed")
    reasons = sorted(header(r, "dlq.reason") or "" for r in dlq.records)
    assert reasons == ["invalid_payload", "schema_version", "undecodable", "unknown_type"]
    first = dlq.records[0]
    assert header(first, "dlq.topic") == settings.topic_household_events
    assert header(first, "dlq.offset") is not None and header(first, "dlq.partition") is not None
    assert header(first, "dlq.error")


async def test_read_api_answers_inside_the_callers_region(settings: Settings, db: Database) -> None:
    await produce(settings, scenario())
    consumer = RiskConsumer(settings, db, POLICY)
    async with running(consumer):
        await eventually(lambda: _consumed(consumer, 6), message="consumed")
    api_settings = settings.model_copy(update={"consumer_enabled": False})

    def token(role: Role, region: str) -> dict[str, str]:
        principal = Principal(subject="u1", role=role, region=region)
        return {"Authorization": f"Bearer {issue_token(settings, principal)}"}

    async with serve(create_app(api_settings)) as base, httpx.AsyncClient(base_url=base) as client:
        ok = await client.get("/v1/households/H1/risk", headers=token(Role.COUNTY_OFFICER, "610327"))
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert body["household_id"] == "H1" and body["latest"] == body["history"][0]
        latest = body["latest"]
        assert set(latest) == {
            "assessment_id",
            "category",
            "level",
            "score",
            "risk_types",
            "warnings",
            "reasons",
            "opens_case",
            "policy_version",
            "event_ids",
            "assessed_at",
        }
        assert latest["category"] == "unstable_lifted" and latest["level"] == "high"
        assert set(latest["reasons"][0]) == {"rule", "points", "reason_zh", "reason_en"}
        none_category = await client.get("/v1/households/H3/risk", headers=token(Role.ADMIN, ""))
        assert none_category.json()["latest"]["category"] is None
        other_village = await client.get(
            "/v1/households/H1/risk", headers=token(Role.VILLAGE_CADRE, "610327102001")
        )
        assert other_village.status_code == 404
        assert other_village.json()["detail"][0]["loc"] == ["path", "household_id"]
        missing = await client.get("/v1/households/NOPE/risk", headers=token(Role.ADMIN, ""))
        assert missing.status_code == 404
        assert (await client.get("/v1/households/H1/risk")).status_code == 401
        bad = await client.get("/v1/households/H1/risk", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        metrics = (await client.get("/metrics")).text
        assert "safetynet_risk_assessments_total" in metrics


async def _consumed(consumer: RiskConsumer, at_least: int) -> bool:
    return consumer.consumed >= at_least


async def _at_least(reader: TopicReader, count: int) -> bool:
    return len(await reader.poll()) >= count


async def _event_assessed(reader: TopicReader, event_id: str) -> bool:
    return event_id in by_event(await reader.assessments())


async def test_backtest_reports_households_that_would_change(
    settings: Settings, db: Database, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import yaml
    from typer.testing import CliRunner

    from safetynet_cli.main import app as cli
    from safetynet_core.policy import load_policy
    from safetynet_core.settings import DEFAULT_POLICY_FILE
    from safetynet_risk.backtest import run_backtest

    await produce(settings, scenario())
    consumer = RiskConsumer(settings, db, POLICY)
    async with running(consumer):
        await eventually(lambda: _consumed(consumer, 6), message="consumed")
    published = await count_rows(db, "assessments")

    unchanged = await run_backtest(db, load_policy(DEFAULT_POLICY_FILE))
    assert unchanged.households == 3 and unchanged.changes == []

    data = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    data["version"] = "2026.2-test"
    data["risk"]["monitoring_lines"] = [
        {"region_prefix": "610327", "line_cny": 12_000},
        {"region_prefix": "", "line_cny": 8_500},
    ]
    raised = tmp_path / "raised-line.yaml"
    raised.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    report = await run_backtest(db, load_policy(raised))
    changed = {c.household_id: c for c in report.changes}
    assert set(changed) == {"H1", "H2"}
    assert (changed["H1"].old_level, changed["H1"].new_level) == ("high", "critical")
    # 10,000 per capita is now within the raised line: marginal rather than sudden hardship
    assert (changed["H2"].old_category, changed["H2"].new_category) == ("sudden_hardship", "marginal")
    assert report.level_changes == 1 and report.category_changes == 1
    assert report.opening_changes == 0  # every household still opens its case, at the same events
    later = (NOW + timedelta(days=2)).date()
    assert (await run_backtest(db, load_policy(raised), since=later)).households == 0

    monkeypatch.setenv("SAFETYNET_DB_SCHEMA", settings.db_schema or "")
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["policy", "backtest", str(raised), "--json"])
    assert result.exit_code == 0, result.output
    assert '"level_changes": 1' in result.output and '"opening_changes": 0' in result.output
    assert json.loads(result.stdout)["households"] == 3  # the progress bar stays off stdout
    assert await count_rows(db, "assessments") == published  # nothing written


async def test_events_stored_concurrently_make_the_batch_retry_as_duplicates(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another transaction (e.g. the previous owner during a rebalance) storing some of a batch's events
    after the batch looked makes it roll back and retry; the retry sees them as duplicates."""
    from safetynet_risk import batch, store
    from safetynet_risk.messages import decode

    incoming = [decode(value) for _, value in scenario()]
    policy = RiskConsumer(settings, db, POLICY)._policy
    async with raw_transaction(db) as conn:
        await batch.process_batch(conn, incoming[:2], policy, now_utc())  # r1, e1 stored "elsewhere"

    real_new_items = batch._new_items
    calls = 0

    async def stale_look(conn: Any, items: Any) -> list[Any]:
        nonlocal calls
        calls += 1
        return list(items) if calls == 1 else await real_new_items(conn, items)  # first look misses r1, e1

    monkeypatch.setattr(batch, "_new_items", stale_look)
    with pytest.raises(store.ConcurrentWrite):
        async with raw_transaction(db) as conn:
            await batch.process_batch(conn, incoming, policy, now_utc())
    calls = 0
    outcome = await RiskConsumer(settings, db, POLICY).store_batch(incoming)
    assert calls == 2  # one stale attempt rolled back, one retry
    assert (outcome.new_facts, outcome.duplicates) == (4, 2)
    async with raw_transaction(db) as conn:
        assert await conn.fetchval("select count(*) from facts") == len(incoming)
        assert await conn.fetchval("select count(*) from facts where assessment_id is null") == 0
        # H1 from the first batch; H2 and H3 from the retry (r1 and e1 are not scored twice)
        assert await conn.fetchval("select count(*) from assessments") == 3


async def test_households_scored_from_the_cache_get_the_assessments_a_database_read_gives(
    settings: Settings, db: Database, isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    """The same batches through process_batch with and without the household cache (two fresh schemas):
    identical assessments, facts and households, including registry updates (newer and older than the
    stored record), a case opened earlier and events waiting for their registry record."""
    from safetynet_risk import batch
    from safetynet_risk.cache import HouseholdCache
    from safetynet_risk.messages import decode

    other: Settings = isolated_settings(Settings)
    await provision(other, SERVICE)
    uncached_db = Database(other, other.db_schema or SERVICE.schema)
    earlier, later = NOW - timedelta(days=40), NOW - timedelta(days=2)
    medical = {"total_cost_cny": 9000, "out_of_pocket_cny": 6000, "inpatient": True}
    flood = {"disaster_type": "flood", "loss_cny": 9000, "housing_damage": "partial"}
    batches = [
        [
            registry_record("r1", "H1", VILLAGE, "lifted", 30_000, 4, earlier),
            registry_record("r2", "H2", VILLAGE, "general", 90_000, 2, earlier),
            department_event("e1", "H1", "medical_expense", medical, NOW - timedelta(days=30)),
            department_event("e2", "H2", "housing_safety", {"rating": "B"}, NOW - timedelta(days=20)),
            department_event("e3", "H3", "school_dropout", {"grade": 8}, NOW - timedelta(days=20)),
        ],
        [
            department_event("e4", "H1", "medical_expense", medical, NOW - timedelta(days=10)),
            registry_record("r2b", "H2", VILLAGE, "general", 20_000, 3, later),  # newer: replaces r2
            department_event("e5", "H2", "disaster_loss", flood),
            department_event("e4", "H1", "medical_expense", medical, NOW - timedelta(days=10)),  # duplicate
        ],
        [
            registry_record("r1-old", "H1", VILLAGE, "general", 99_000, 1, earlier - timedelta(days=9)),  # older
            department_event("e6", "H1", "unemployment", {"previous_monthly_wage_cny": 3000}),
            department_event("e7", "H2", "drinking_water", {"issue": "cut_off", "days_affected": 40}),
            registry_record("r3", "H3", VILLAGE, "general", 12_000, 3, later),  # H3's events waited
        ],
        [department_event("e8", "H3", "housing_safety", {"rating": "D"}), department_event("e9", "H2", "death", {})],
    ]
    policy = RiskConsumer(settings, db, POLICY)._policy
    cache = HouseholdCache(100)
    try:
        for number, values in enumerate(batches):
            incoming = [decode(value) for value in values]
            results = []
            for database, household_cache in ((db, cache), (uncached_db, None)):
                async with raw_transaction(database) as conn:
                    results.append(await batch.process_batch(conn, incoming, policy, NOW, household_cache))
            cached, uncached = results
            cache.apply(cached.cache_updates, cache.generation)
            assert cached.assessments == uncached.assessments, number
            assert (cached.new_facts, cached.duplicates, cached.waiting) == (
                uncached.new_facts,
                uncached.duplicates,
                uncached.waiting,
            )
            if number > 0:
                hits = {item.household_id for item in incoming} & {"H1", "H2"}
                assert hits <= set(cached.cache_updates), "scored from the cache"
        assert len(cache) == 3
        for table, order in (("assessments", "assessment_id"), ("facts", "event_id"), ("households", "household_id")):
            query = f"select * from {table} order by {order}"
            async with raw_transaction(db) as conn:
                mine = [
                    {k: v for k, v in dict(r).items() if k not in ("updated_at", "received_at")}
                    for r in await conn.fetch(query)
                ]
            async with raw_transaction(uncached_db) as conn:
                theirs = [
                    {k: v for k, v in dict(r).items() if k not in ("updated_at", "received_at")}
                    for r in await conn.fetch(query)
                ]
            assert mine == theirs, table
    finally:
        await uncached_db.close()

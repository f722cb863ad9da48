"""Kafka unavailable while departments keep posting: everything is accepted, nothing is lost, and the
backlog drains once Kafka is back (the relay's producer first points at a dead port, then the broker)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from safetynet_core import kafka
from safetynet_core.testing import eventually
from safetynet_intake import metrics
from safetynet_intake.info import SERVICE
from safetynet_intake.relay import BACKLOG, BACKLOG_EXACT, LOCK_BATCH, SELECT_BATCH
from safetynet_intake.samples import medical_event, ndjson
from safetynet_intake.settings import Settings
from safetynet_intake.store import EVENT_STATUS, EVENTS_WITH_OUTBOX

pytestmark = pytest.mark.integration
DEAD_BROKER = "127.0.0.1:1"


async def test_kafka_down_loses_nothing_and_the_backlog_drains(start_intake: Any) -> None:
    broker = {"address": DEAD_BROKER}
    settings_holder: dict[str, Any] = {}

    def producer() -> AIOKafkaProducer:
        return kafka.make_producer(
            settings_holder["settings"], bootstrap_servers=broker["address"], request_timeout_ms=2000
        )

    failures_before = metrics.RELAY_FAILURES._value.get()
    async with start_intake(producer_factory=producer) as intake:
        settings_holder["settings"] = intake.settings
        await intake.key("medical_insurance")  # create the client before posting concurrently
        singles = [medical_event(household_id=f"H{i % 7}") for i in range(40)]
        responses = await asyncio.gather(*(intake.post("/v1/events", "medical_insurance", json=e) for e in singles))
        assert [r.status_code for r in responses] == [202] * 40
        batch = [medical_event(household_id=f"H{i % 7}") for i in range(60)]
        result = (await intake.post("/v1/events:batch", "medical_insurance", content=ndjson(*batch))).json()
        assert result == {"accepted": 60, "duplicates": 0, "rejected": []}

        await eventually(lambda: _relay_failed(failures_before), message="relay retrying against a dead broker")
        pending = await intake.db.fetchval("select count(*) from outbox where published_at is null")
        statuses = await intake.db.fetch(f"select distinct {EVENT_STATUS} as status from {EVENTS_WITH_OUTBOX}")
        assert pending == 100

        async def backlog_reported() -> bool:
            return bool(metrics.OUTBOX_BACKLOG._value.get() == 100 and metrics.OUTBOX_OLDEST_AGE._value.get() > 0)

        await eventually(backlog_reported, message="backlog metrics updated while Kafka is down")
        assert [r["status"] for r in statuses] == ["accepted"]

        broker["address"] = intake.settings.kafka_bootstrap

        async def drained() -> bool:
            published = f"select count(*) from {EVENTS_WITH_OUTBOX} where {EVENT_STATUS} = 'published'"
            return bool(await intake.db.fetchval(published) == 100)

        await eventually(drained, timeout=60, message="backlog drained after Kafka came back")
        messages = await intake.published_messages(100)
        expected = sorted(e["event_id"] for e in [*singles, *batch])
        assert sorted(m.event_id for _, m in messages) == expected
        assert len(messages) == 100
        for key, message in messages:
            assert key == message.household_id
        # per household, messages arrive in acceptance order
        order = {e["event_id"]: i for i, e in enumerate(await _accepted_order(intake))}
        by_household: dict[str, list[int]] = {}
        for key, message in messages:
            by_household.setdefault(key, []).append(order[message.event_id])
        assert all(seq == sorted(seq) for seq in by_household.values())


async def _relay_failed(before: float) -> bool:
    return bool(metrics.RELAY_FAILURES._value.get() > before)


async def _accepted_order(intake: Any) -> list[dict[str, Any]]:
    rows = await intake.db.fetch("select event_id from outbox order by id")
    return [{"event_id": r["event_id"]} for r in rows]


@pytest.fixture
async def conn(isolated_settings: Any, provision: Any) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a fresh intake schema, its outbox empty."""
    settings = isolated_settings(Settings)
    await provision(settings, SERVICE)
    conn = await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": settings.db_schema})
    try:
        yield conn
    finally:
        await conn.close()


async def test_relay_batches_walk_the_unpublished_index_while_statistics_are_stale(
    conn: asyncpg.Connection,
) -> None:
    """Right after a burst (table never analyzed) each batch still reads `limit` rows in id order off the
    partial index instead of sorting the whole backlog."""
    await conn.execute(
        "insert into outbox (topic, key, value) select 't', 'H' || g, '\\x00' from generate_series(1, 20000) g"
    )
    async with conn.transaction():
        assert await conn.fetchval(LOCK_BATCH) is True
        plan = "\n".join(r[0] for r in await conn.fetch("explain " + SELECT_BATCH, 1000))
        first = await conn.fetch(SELECT_BATCH, 1000)
    assert "Index Scan using outbox_unpublished" in plan, plan
    assert "Sort" not in plan, plan
    assert [r["id"] for r in first] == sorted(r["id"] for r in first)
    assert len(first) == 1000
    assert await conn.fetchval("show enable_sort") == "on"  # the setting ended with the transaction


async def test_the_backlog_gauge_counts_up_to_its_cap_then_spans_ids(conn: asyncpg.Connection) -> None:
    """Exact up to the cap; beyond it the span of ids (an upper bound: gaps count), read off the unpublished
    index only, so a backlog of a million rows costs the relay no full count."""
    await conn.execute(
        "insert into outbox (id, topic, key, value, created_at)"
        " select g, 't', 'H' || g, '\\x00', now() - interval '1 hour' + g * interval '1 ms'"
        " from generate_series(1, 20000) g"
    )
    await conn.execute("update outbox set published_at = now() where id <= 5000")
    await conn.execute("delete from outbox where id between 6000 and 6099")  # ids a batch reserved, unused

    async def gauge(cap: int) -> tuple[int, float, str]:
        async with conn.transaction():
            await conn.execute("set local enable_seqscan = off; set local enable_bitmapscan = off")
            plan = "\n".join(r[0] for r in await conn.fetch("explain " + BACKLOG, cap))
            row = await conn.fetchrow(BACKLOG, cap)
        return row["backlog"], row["age"], plan

    exact, age, plan = await gauge(20_000)
    assert exact == 14_900
    assert 3590 < age < 3610  # the oldest unpublished row (id 5001) is about an hour old
    assert "outbox_unpublished" in plan and "Seq Scan" not in plan, plan
    spanned, _, _ = await gauge(BACKLOG_EXACT)
    assert spanned == 15_000  # ids 5001-20000, the 100 reserved and unused among them
    await conn.execute("update outbox set published_at = now() where published_at is null")
    assert (await gauge(BACKLOG_EXACT))[:2] == (0, 0)

"""B3: time for the risk consumer to score 100,000 household events already on a fresh topic, against a
consume-only pass over the same topic in the same run (ratio = consume-only time / scoring time, goal ≥ 0.25).

Run alone: `python -m bench.run risk` (BENCH_RISK_EVENTS overrides the count, BENCH_RISK_BATCH the batch size
both passes read with; the recorded figures use the default 5,000)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from datetime import timedelta
from typing import Any

from bench.common import BenchResult
from safetynet_core import kafka
from safetynet_core.contracts import now_utc
from safetynet_core.db import Database, migrate
from safetynet_core.policy import load_policy
from safetynet_core.settings import CoreSettings
from safetynet_core.testing import drop_schema, unique
from safetynet_risk.consumer import RiskConsumer
from safetynet_risk.info import SERVICE
from safetynet_risk.messages import department_event, registry_record
from safetynet_risk.settings import Settings

EVENTS = int(os.environ.get("BENCH_RISK_EVENTS", "100000"))
BATCH = int(os.environ.get("BENCH_RISK_BATCH", "5000"))
EVENTS_PER_HOUSEHOLD = 10  # one registry record and nine department events
GOAL = 0.25
PAYLOADS: list[tuple[str, dict[str, Any]]] = [
    ("medical_expense", {"total_cost_cny": 4000, "out_of_pocket_cny": 1500, "inpatient": False}),
    ("medical_expense", {"total_cost_cny": 30000, "out_of_pocket_cny": 11000, "inpatient": True}),
    ("education_expense", {"out_of_pocket_cny": 3000, "stage": "high_school"}),
    (
        "income_change",
        {"previous_annual_income_cny": 40000, "current_annual_income_cny": 26000, "reason": "wage_cut"},
    ),
    ("disaster_loss", {"disaster_type": "flood", "loss_cny": 8000, "housing_damage": "partial"}),
    ("accident", {"out_of_pocket_cny": 2000, "lost_labour": False}),
    ("housing_safety", {"rating": "C"}),
    ("drinking_water", {"issue": "cut_off", "days_affected": 12}),
    ("unemployment", {"previous_monthly_wage_cny": 3500}),
]


def synthetic_events(count: int, seed: int = 3) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs: each household's registry record first, then its events, households interleaved."""
    rng = random.Random(seed)
    now = now_utc()
    households = max(count // EVENTS_PER_HOUSEHOLD, 1)
    messages: list[tuple[bytes, bytes]] = []
    for h in range(households):
        hid = f"B{h:07d}"
        region = f"610327{101 + h % 9:03d}{201 + h % 20:03d}"
        messages.append(
            (
                hid.encode(),
                registry_record(
                    f"{hid}-r",
                    hid,
                    region,
                    rng.choice(["lifted", "general"]),
                    rng.randrange(10_000, 90_000),
                    rng.randrange(1, 7),
                    now - timedelta(days=330),
                ),
            )
        )
    for i in range(count - households):
        h = rng.randrange(households)
        hid = f"B{h:07d}"
        kind, payload = rng.choice(PAYLOADS)
        messages.append(
            (
                hid.encode(),
                department_event(
                    f"{hid}-e{i}", hid, kind, payload, now - timedelta(days=rng.uniform(1, 300))
                ),
            )
        )
    return messages


async def produce(settings: CoreSettings, messages: list[tuple[bytes, bytes]]) -> None:
    producer = kafka.make_producer(settings, linger_ms=20, max_batch_size=1024 * 1024)
    await producer.start()
    try:
        pending = []
        for key, value in messages:
            pending.append(await producer.send(settings.topic_household_events, value=value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def consume_only(settings: Settings, count: int) -> float:
    """Seconds for a plain consumer group to read `count` records (no decoding, no work)."""
    consumer = kafka.make_consumer(
        settings,
        unique("bench-baseline"),
        settings.topic_household_events,
        max_poll_records=settings.consume_batch,
    )
    started = time.perf_counter()
    await consumer.start()
    seen = 0
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=settings.consume_batch)
            seen += sum(len(records) for records in batches.values())
            if batches:
                await consumer.commit()
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def score_all(settings: Settings, count: int) -> tuple[float, int]:
    """Seconds for the risk consumer to store, score, publish and commit `count` records."""
    db = Database(settings, settings.db_schema or SERVICE.schema)
    consumer = RiskConsumer(settings, db, load_policy(settings.policy_file))
    started = time.perf_counter()
    task = asyncio.create_task(consumer.run())
    try:
        while consumer.consumed < count:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        return time.perf_counter() - started, consumer.batches
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.close()


async def run(stack: dict[str, str]) -> list[BenchResult]:
    suffix = unique("")[1:]
    overrides: dict[str, Any] = {
        "db_schema": f"bench_risk_{suffix}",
        "topic_household_events": f"bench.household-events.{suffix}",
        "topic_risk_assessments": f"bench.risk-assessments.{suffix}",
        "topic_case_events": f"bench.case.{suffix}",
        # A fresh group, as the baseline has: joining the stack's `risk` group would rebalance the running
        # risk service (and charge that rebalance to the measurement).
        "consumer_group": f"bench-risk-{suffix}",
        "topic_partitions": 6,
        "consume_batch": BATCH,
        "log_level": "WARNING",
    }
    for key in ("DATABASE_URL", "KAFKA_BOOTSTRAP"):
        if key in stack:
            overrides[key.lower()] = stack[key]
    settings = Settings(**overrides)
    await asyncio.to_thread(migrate, settings, settings.db_schema or "", SERVICE.migrations_dir)
    await kafka.ensure_topics(settings, kafka.standard_topics(settings))
    try:
        messages = synthetic_events(EVENTS)
        produce_started = time.perf_counter()
        await produce(settings, messages)
        produce_seconds = time.perf_counter() - produce_started
        baseline = await consume_only(settings, len(messages))
        scoring, batches = await score_all(settings, len(messages))
    finally:
        await drop_schema(settings.asyncpg_dsn, settings.db_schema or "")
        await kafka.delete_topics(settings, kafka.standard_topics(settings))
    ratio = baseline / scoring
    return [
        BenchResult(
            name="B3",
            description=f"risk: score {len(messages):,} events already on a fresh topic",
            metric="seconds",
            value=scoring,
            baseline=baseline,
            ratio=ratio,
            goal=f"≥ {GOAL}",
            met=ratio >= GOAL,
            details={
                "events": len(messages),
                "households": len(messages) // EVENTS_PER_HOUSEHOLD,
                "events_per_second": len(messages) / scoring,
                "baseline_events_per_second": len(messages) / baseline,
                "batches": batches,
                "batch_size": BATCH,
                "produce_seconds": produce_seconds,
            },
        )
    ]

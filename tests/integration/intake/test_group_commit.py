"""Group commit and batched publishing under concurrency: outcomes per request stay exact, nothing is
answered before it is stored, and each household's events keep the default partitioner's partition."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import REGISTRY

from safetynet_core.contracts import HouseholdEvent
from safetynet_core.testing import eventually
from safetynet_intake.samples import medical_event

pytestmark = pytest.mark.integration


def _groups_written() -> float:
    return REGISTRY.get_sample_value("safetynet_intake_event_write_group_size_count") or 0.0


async def test_concurrent_posts_get_their_own_outcomes(start_intake: Any) -> None:
    """Concurrent requests share write statements: repeats of one id across requests (even in one group)
    are answered 202 once, then 200 for the same body and 409 for another; every 2xx is in the table."""
    async with start_intake(event_writers=1) as intake:
        await intake.key("medical_insurance")  # before the concurrent posts, which share its connection
        fresh = [medical_event(household_id=f"H{n:04d}") for n in range(60)]
        repeated = medical_event(household_id="H9999")
        changed = {**repeated, "reference": "HIS-OTHER"}
        bodies = [*fresh, *[repeated] * 5, *[changed] * 3]
        groups_before = _groups_written()
        responses = await asyncio.gather(
            *(intake.post("/v1/events", "medical_insurance", json=body) for body in bodies)
        )
        assert _groups_written() - groups_before < len(bodies)  # some requests shared a statement

        statuses = Counter(r.status_code for r in responses[: len(fresh)])
        assert statuses == {202: len(fresh)}
        repeat_statuses = sorted(r.status_code for r in responses[len(fresh) :])
        # one write of the id wins (202); the others match it (200) or conflict with it (409)
        assert repeat_statuses.count(202) == 1
        [winner] = [b for b, r in list(zip(bodies, responses, strict=True))[len(fresh) :] if r.status_code == 202]
        expected_duplicates = (5 if winner is repeated else 3) - 1
        assert repeat_statuses.count(200) == expected_duplicates
        assert repeat_statuses.count(409) == 8 - 1 - expected_duplicates
        assert all(r.json()["detail"][0]["loc"] == ["body", "event_id"] for r in responses if r.status_code == 409)

        stored = await intake.db.fetch("select event_id, reference from events")
        assert len(stored) == len(fresh) + 1
        assert {row["reference"] for row in stored if row["event_id"] == repeated["event_id"]} == {winner["reference"]}
        outbox = await intake.db.fetchval("select count(*) from outbox")
        assert outbox == len(fresh) + 1


async def test_a_bad_row_fails_alone_in_its_group(start_intake: Any) -> None:
    """A row Postgres refuses (a NUL character in text) fails only its own request, not its group."""
    async with start_intake(event_writers=1) as intake:
        await intake.key("medical_insurance")
        good = [medical_event(household_id=f"H{n:04d}") for n in range(20)]
        bad = medical_event(reference="bad\u0000reference")
        responses = await asyncio.gather(
            *(intake.post("/v1/events", "medical_insurance", json=body) for body in [*good[:10], bad, *good[10:]])
        )
        codes = [r.status_code for r in responses]
        assert codes.count(202) == len(good)
        assert codes[10] == 422 and "NUL" in responses[10].json()["detail"][0]["msg"]
        assert await intake.db.fetchval("select count(*) from events") == len(good)


async def test_relay_batches_keep_the_default_partition_and_order_per_household(start_intake: Any) -> None:
    async with start_intake() as intake:
        households = [f"H{n:05d}" for n in range(40)]
        lines = [medical_event(household_id=households[n % len(households)], reference=f"R{n}") for n in range(400)]
        body = b"\n".join(orjson.dumps(line) for line in lines)
        response = await intake.post(
            "/v1/events:batch", "medical_insurance", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
        assert response.json()["accepted"] == len(lines)

        consumer = AIOKafkaConsumer(
            intake.settings.topic_household_events,
            bootstrap_servers=intake.settings.kafka_bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        records: list[Any] = []
        try:

            async def all_read() -> bool:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
                return len(records) >= len(lines)

            await eventually(all_read, timeout=30, message="every event published")
            partitions = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        finally:
            await consumer.stop()

        all_partitions = [tp.partition for tp in partitions]
        choose = DefaultPartitioner()
        published: dict[str, list[str]] = {}
        for record in sorted(records, key=lambda r: (r.partition, r.offset)):
            assert record.partition == choose(record.key, all_partitions, all_partitions)
            message = HouseholdEvent.FromString(record.value)
            published.setdefault(record.key.decode(), []).append(message.department_event.reference)
        assert published == {h: [e["reference"] for e in lines if e["household_id"] == h] for h in households}

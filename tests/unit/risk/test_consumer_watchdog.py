"""The risk consumer's watchdog: a consume loop wedged in a Kafka client is cancelled and reported, so the
supervisor restarts it with fresh clients."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition

from safetynet_risk.consumer import ConsumerStalled, RiskConsumer
from safetynet_risk.settings import Settings


async def test_a_wedged_loop_is_cancelled_and_reported() -> None:
    consumer = RiskConsumer(Settings(stall_seconds=0.3), db=None)  # type: ignore[arg-type]
    cancelled = asyncio.Event()

    async def wedged(_: Any) -> None:
        try:
            await asyncio.Event().wait()  # a commit that never returns
        finally:
            cancelled.set()

    consumer._consume = wedged  # type: ignore[method-assign,assignment]
    with pytest.raises(ConsumerStalled, match="no progress"):
        await asyncio.wait_for(consumer.run(), 10)
    assert cancelled.is_set()


async def test_a_loop_that_finishes_returns_normally() -> None:
    consumer = RiskConsumer(Settings(stall_seconds=0.3), db=None)  # type: ignore[arg-type]

    async def finishes(_: Any) -> None:
        await asyncio.sleep(0)

    consumer._consume = finishes  # type: ignore[method-assign,assignment]
    await asyncio.wait_for(consumer.run(), 10)


class _Member:
    """A stand-in for AIOKafkaConsumer: its assignment, positions and end offsets."""

    def __init__(self, positions: dict[TopicPartition, int], ends: dict[TopicPartition, int]) -> None:
        self.positions, self.ends = positions, ends

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp] for tp in partitions}

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]


async def test_an_idle_consumer_that_left_its_group_or_stopped_fetching_is_stalled() -> None:
    p0 = TopicPartition("household-events", 0)
    cases = {
        "no partitions assigned": _Member({}, {}),
        r"records waiting on partitions \[0\]": _Member({p0: 10}, {p0: 25}),
    }
    for message, member in cases.items():
        consumer = RiskConsumer(Settings(stall_seconds=0.01), db=None)  # type: ignore[arg-type]
        await asyncio.sleep(0.02)
        with pytest.raises(ConsumerStalled, match=message):
            await consumer._check_membership(member)
    caught_up = RiskConsumer(Settings(stall_seconds=0.01), db=None)  # type: ignore[arg-type]
    await asyncio.sleep(0.02)
    await caught_up._check_membership(_Member({p0: 25}, {p0: 25}))
    busy = RiskConsumer(Settings(stall_seconds=60), db=None)  # type: ignore[arg-type]
    await busy._check_membership(_Member({}, {}))  # recently fetched: not checked

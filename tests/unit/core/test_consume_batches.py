"""The shared consume loop: commit only after a batch is handled, and a consumer that silently dropped out of
its group (idle with records waiting, or with no partitions) raises ConsumerStalled so its loop restarts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from safetynet_core.kafka import ConsumerStalled, MembershipWatch, consume_batches

P0 = TopicPartition("case-events", 0)


class _Member:
    """A stand-in for AIOKafkaConsumer: polls it will answer, its assignment, positions and end offsets."""

    def __init__(
        self,
        positions: dict[TopicPartition, int],
        ends: dict[TopicPartition, int],
        polls: list[list[Any]] | None = None,
    ) -> None:
        self.positions, self.ends = positions, ends
        self.polls = polls or []
        self.log: list[str] = []

    async def start(self) -> None:
        self.log.append("start")

    async def stop(self) -> None:
        self.log.append("stop")

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        await asyncio.sleep(0)
        return {P0: self.polls.pop(0)} if self.polls else {}

    async def commit(self) -> None:
        self.log.append("commit")

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp] for tp in partitions}

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]


async def test_an_idle_consumer_that_left_its_group_or_stopped_fetching_is_stalled() -> None:
    cases = {
        "no partitions assigned": _Member({}, {}),
        r"records waiting on partitions \[0\]": _Member({P0: 10}, {P0: 25}),
    }
    for message, member in cases.items():
        watch = MembershipWatch(stall_seconds=0.01)
        await asyncio.sleep(0.02)
        with pytest.raises(ConsumerStalled, match=message):
            await watch.idle(member)
    caught_up = MembershipWatch(stall_seconds=0.01)
    await asyncio.sleep(0.02)
    await caught_up.idle(_Member({P0: 25}, {P0: 25}))
    busy = MembershipWatch(stall_seconds=60)
    await busy.idle(_Member({}, {}))  # fetched recently: not checked


async def test_batches_are_committed_after_handling_and_a_wedged_consumer_ends_the_loop_stopped() -> None:
    records = [ConsumerRecord("case-events", 0, n, 0, 0, None, b"v", None, 1, 1, []) for n in range(3)]
    member = _Member({P0: 3}, {P0: 9}, polls=[records[:2], records[2:]])

    async def handle(batch: list[Any]) -> None:
        member.log.append(f"handle {[r.offset for r in batch]}")

    with pytest.raises(ConsumerStalled, match="records waiting"):
        await asyncio.wait_for(
            consume_batches(member, handle, max_records=10, stall_seconds=0.05, timeout_ms=1),
            10,
        )
    assert member.log == ["start", "handle [0, 1]", "commit", "handle [2]", "commit", "stop"]


async def test_a_failing_batch_is_not_committed() -> None:
    member = _Member({P0: 0}, {P0: 1}, polls=[[object()]])

    async def handle(batch: list[Any]) -> None:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        await consume_batches(member, handle, max_records=10, stall_seconds=60)
    assert member.log == ["start", "stop"]

"""A producer that stops acknowledging (a wedge after a broker restart) is replaced: the failed send raises,
and the next one goes through a fresh producer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from safetynet_core.kafka import RenewingProducer


class _Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes]] = []

    def append(self, key: bytes, value: bytes, timestamp: Any) -> object:
        self.records.append((key, value))
        return object()


class _Producer:
    """Acknowledges every batch, or (wedged) none."""

    def __init__(self, wedged: bool) -> None:
        self.wedged = wedged
        self.sent: list[tuple[str, int, list[tuple[bytes, bytes]]]] = []
        self.state = "new"

    async def start(self) -> None:
        self.state = "started"

    async def stop(self) -> None:
        self.state = "stopped"

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, partition: int) -> asyncio.Future[None]:
        self.sent.append((topic, partition, batch.records))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.wedged:
            future.set_result(None)
        return future


async def test_a_producer_that_does_not_acknowledge_is_replaced() -> None:
    made: list[_Producer] = []

    def factory() -> Any:
        made.append(_Producer(wedged=not made))  # the first one is wedged
        return made[-1]

    producer = RenewingProducer(factory, ack_timeout=0.05)
    messages = [("case-events", b"H1", b"a"), ("case-events", b"H1", b"b")]
    with pytest.raises(TimeoutError):
        await producer.send_keyed(messages)
    assert made[0].state == "stopped"
    assert producer.renewals == 1

    await producer.send_keyed(messages)
    assert len(made) == 2
    assert made[1].state == "started"
    (topic, _, records), *rest = made[1].sent
    assert rest == [] and topic == "case-events"
    assert records == [(b"H1", b"a"), (b"H1", b"b")]  # one household: one partition, in order

    await producer.send_keyed(messages)
    assert len(made) == 2  # a healthy producer is kept
    await producer.close()
    assert made[1].state == "stopped"

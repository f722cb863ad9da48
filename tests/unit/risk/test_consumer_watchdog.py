"""The risk consumer's watchdog: a consume loop wedged in a Kafka client is cancelled and reported, so the
supervisor restarts it with fresh clients."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from safetynet_core.kafka import ConsumerStalled
from safetynet_risk.consumer import RiskConsumer
from safetynet_risk.settings import Settings


async def test_a_wedged_loop_is_cancelled_and_reported() -> None:
    consumer = RiskConsumer(Settings(stall_seconds=0.3), db=None, policy=None)  # type: ignore[arg-type]
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
    consumer = RiskConsumer(Settings(stall_seconds=0.3), db=None, policy=None)  # type: ignore[arg-type]

    async def finishes(_: Any) -> None:
        await asyncio.sleep(0)

    consumer._consume = finishes  # type: ignore[method-assign,assignment]
    await asyncio.wait_for(consumer.run(), 10)

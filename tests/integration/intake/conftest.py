"""Intake served in-process against the real Postgres and Kafka, on a fresh schema and topics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from safetynet_core.contracts import HouseholdEvent
from safetynet_core.testing import eventually, serve
from safetynet_intake.clients import create_client
from safetynet_intake.info import SERVICE
from safetynet_intake.main import create_app
from safetynet_intake.relay import ProducerFactory
from safetynet_intake.settings import Settings


@dataclass
class Intake:
    """A running intake app plus what tests need to drive and inspect it."""

    url: str
    settings: Settings
    http: httpx.AsyncClient
    db: asyncpg.Connection
    keys: dict[str, str] = field(default_factory=dict)

    async def new_key(self, department: str, event_types: list[str] | None = None) -> str:
        _, api_key = await create_client(self.db, department, f"test {department}", event_types)
        return api_key

    async def key(self, department: str) -> str:
        """One cached key per department (its natural event types)."""
        if department not in self.keys:
            self.keys[department] = await self.new_key(department)
        return self.keys[department]

    async def post(self, path: str, department: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.key(department)}", **kwargs.pop("headers", {})}
        return await self.http.post(self.url + path, headers=headers, **kwargs)

    async def put(self, path: str, department: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.key(department)}"}
        return await self.http.put(self.url + path, headers=headers, **kwargs)

    async def get(self, path: str, department: str) -> httpx.Response:
        return await self.http.get(self.url + path, headers={"Authorization": f"Bearer {await self.key(department)}"})

    async def status_of(self, event_id: str, department: str) -> str:
        response = await self.get(f"/v1/events/{event_id}", department)
        assert response.status_code == 200, response.text
        return str(response.json()["status"])

    async def published_messages(self, expected: int, timeout: float = 30.0) -> list[tuple[str, Any]]:
        """Every (key, HouseholdEvent) on the test's household-events topic, once `expected` are there."""
        return await read_topic(self.settings, self.settings.topic_household_events, expected, timeout)


async def read_topic(settings: Settings, topic: str, expected: int, timeout: float) -> list[tuple[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    seen: list[tuple[str, Any]] = []
    try:

        async def drained() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                seen.extend((r.key.decode(), HouseholdEvent.FromString(r.value)) for r in records)
            return len(seen) >= expected

        await eventually(drained, timeout=timeout, interval=0.05, message=f"{expected} messages on {topic}")
        # anything extra (a duplicate publication) would arrive with the same fetches; take one more look
        batches = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            seen.extend((r.key.decode(), HouseholdEvent.FromString(r.value)) for r in records)
    finally:
        await consumer.stop()
    return seen


StartIntake = Callable[..., AbstractAsyncContextManager[Intake]]


@pytest.fixture
def start_intake(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> StartIntake:
    """`async with start_intake(**setting_overrides, producer_factory=...) as intake:`"""

    @asynccontextmanager
    async def start(producer_factory: ProducerFactory | None = None, **overrides: Any) -> AsyncIterator[Intake]:
        settings: Settings = isolated_settings(
            Settings, **{"relay_poll_interval": 0.2, "relay_backoff_max": 0.5, **overrides}
        )
        await provision(settings, SERVICE)
        conn = await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": settings.db_schema})
        try:
            async with (
                serve(create_app(settings, producer_factory=producer_factory)) as url,
                httpx.AsyncClient(timeout=30) as http,
            ):
                yield Intake(url=url, settings=settings, http=http, db=conn)
        finally:
            await conn.close()

    return start

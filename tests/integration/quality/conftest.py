"""Intake served in-process on a fresh schema and topics, with department keys and case-worker tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from safetynet_core.auth import Principal, Role, issue_token
from safetynet_core.contracts import HouseholdEvent
from safetynet_core.testing import eventually, serve
from safetynet_intake.clients import create_client
from safetynet_intake.info import SERVICE
from safetynet_intake.main import create_app
from safetynet_intake.settings import Settings


@dataclass
class Intake:
    url: str
    settings: Settings
    http: httpx.AsyncClient
    db: asyncpg.Connection
    keys: dict[str, str] = field(default_factory=dict)

    async def key(self, department: str) -> str:
        if department not in self.keys:
            _, self.keys[department] = await create_client(self.db, department, f"test {department}", None)
        return self.keys[department]

    async def put_record(self, record: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.key('rural_revitalization')}"}
        return await self.http.put(f"{self.url}/v1/households/{record['household_id']}", json=record, headers=headers)

    async def post_batch(self, body: bytes) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {await self.key('rural_revitalization')}",
            "content-type": "application/x-ndjson",
        }
        return await self.http.post(f"{self.url}/v1/households:batch", content=body, headers=headers)

    def token(self, role: Role, region: str, department: str | None = None) -> dict[str, str]:
        principal = Principal(subject=f"{role.value}-{region}", role=role, region=region, department=department)
        return {"Authorization": f"Bearer {issue_token(self.settings, principal)}"}

    async def quality(self, role: Role, scope: str, **params: Any) -> httpx.Response:
        return await self.http.get(f"{self.url}/v1/data-quality", params=params, headers=self.token(role, scope))

    async def registry_messages(self, expected: int, timeout: float = 30.0) -> list[tuple[str, Any]]:
        consumer = AIOKafkaConsumer(
            self.settings.topic_household_events,
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        seen: list[tuple[str, Any]] = []
        try:

            async def drained() -> bool:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    seen.extend((r.key.decode(), HouseholdEvent.FromString(r.value)) for r in records)
                return len(seen) >= expected

            await eventually(drained, timeout=timeout, interval=0.05, message=f"{expected} registry messages")
        finally:
            await consumer.stop()
        return seen


StartIntake = Callable[..., AbstractAsyncContextManager[Intake]]


@pytest.fixture
def start_intake(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> StartIntake:
    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Intake]:
        settings: Settings = isolated_settings(
            Settings, **{"relay_poll_interval": 0.2, "intake_run_status_consumer": False, **overrides}
        )
        await provision(settings, SERVICE)
        conn = await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": settings.db_schema})
        try:
            async with serve(create_app(settings)) as url, httpx.AsyncClient(timeout=30) as http:
                yield Intake(url=url, settings=settings, http=http, db=conn)
        finally:
            await conn.close()

    return start

"""The relay as its own process (`python -m safetynet_intake.relay`): woken by NOTIFY from an app that
does not run a relay, publishes what was accepted while it was down, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest

from safetynet_core.testing import eventually
from safetynet_intake.samples import medical_event

pytestmark = pytest.mark.integration


async def test_standalone_relay_publishes_the_backlog_and_new_events(start_intake: Any) -> None:
    async with start_intake(intake_run_relay=False, intake_run_status_consumer=False) as intake:
        before = medical_event()
        assert (await intake.post("/v1/events", "medical_insurance", json=before)).status_code == 202
        settings = intake.settings
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "SAFETYNET_DB_SCHEMA": settings.db_schema,
            "SAFETYNET_TOPIC_HOUSEHOLD_EVENTS": settings.topic_household_events,
            "SAFETYNET_RELAY_POLL_INTERVAL": "30",  # only NOTIFY can make the second event prompt
        }
        relay = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "safetynet_intake.relay",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await eventually(lambda: _published(intake, before["event_id"]), message="backlog published")
            after = medical_event()
            assert (await intake.post("/v1/events", "medical_insurance", json=after)).status_code == 202
            await eventually(lambda: _published(intake, after["event_id"]), timeout=10, message="woken by NOTIFY")
        finally:
            relay.terminate()
            code = await asyncio.wait_for(relay.wait(), 20)
        assert code == 0
        messages = await intake.published_messages(2)
        assert sorted(m.event_id for _, m in messages) == sorted([before["event_id"], after["event_id"]])


async def _published(intake: Any, event_id: str) -> bool:
    return bool(await intake.status_of(event_id, "medical_insurance") == "published")

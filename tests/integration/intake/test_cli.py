"""`safetynet clients create|revoke` against the real database: the key works once created, not after
revocation, and only its hash is stored."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from safetynet_intake.samples import medical_event

pytestmark = pytest.mark.integration
CLI = Path(sys.executable).with_name("safetynet")


async def run_cli(schema: str, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        "clients",
        *args,
        env={**os.environ, "SAFETYNET_DB_SCHEMA": schema},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_clients_create_and_revoke(start_intake: Any) -> None:
    async with start_intake(api_key_cache_ttl=0, intake_run_status_consumer=False) as intake:
        schema = intake.settings.db_schema
        code, out = await run_cli(schema, "create", "--department", "emergency_management", "--name", "应急局")
        assert code == 0, out
        created = json.loads(out.strip().splitlines()[-1])
        api_key = created["api_key"]
        assert api_key.startswith(f"snk_{created['client_id']}_")
        stored = await intake.db.fetchrow(
            "select key_hash, event_types from api_clients where client_id = $1", created["client_id"]
        )
        assert stored["key_hash"].startswith("$argon2") and api_key not in stored["key_hash"]
        assert sorted(stored["event_types"]) == ["accident", "disaster_loss"]

        headers = {"Authorization": f"Bearer {api_key}"}
        flood = medical_event(
            type="disaster_loss",
            payload={"disaster_type": "flood", "loss_cny": 5, "housing_damage": "partial"},
        )
        assert (await intake.http.post(intake.url + "/v1/events", json=flood, headers=headers)).status_code == 202

        code, out = await run_cli(schema, "revoke", created["client_id"])
        assert code == 0, out
        again = medical_event(type="disaster_loss", payload=flood["payload"])
        assert (await intake.http.post(intake.url + "/v1/events", json=again, headers=headers)).status_code == 401
        assert (await run_cli(schema, "revoke", created["client_id"]))[0] == 1
        assert (await run_cli(schema, "create", "--department", "water", "--name", "x", "--event-types", "bogus"))[
            0
        ] == 2

"""The acknowledgement path on the real Postgres and Kafka: a department's `measure_update` is validated and
typed by intake, published on household-events like every event (what the workflow will consume), and
risk skips it: no fact, no assessment, no dead letter."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from safetynet_core.contracts import department_payload
from safetynet_core.db import Database, raw_transaction
from safetynet_core.policy import load_policy
from safetynet_core.testing import eventually
from safetynet_intake.samples import household_record, medical_event
from safetynet_risk.consumer import RiskConsumer
from safetynet_risk.info import SERVICE as RISK
from safetynet_risk.settings import Settings as RiskSettings

pytestmark = pytest.mark.integration
HOUSEHOLD = "H610327101201001"
UPDATE = {"case_id": "C5f3a9e0c1d2b4a6e8f0a1b2", "measure_type": "medical_assistance", "status": "done", "note": ""}


def measure_update(event_id: str, **payload: Any) -> dict[str, Any]:
    return {
        **medical_event(HOUSEHOLD, event_id=event_id, type="measure_update", reference="YB-ACK-1"),
        "payload": {**UPDATE, **payload},
    }


async def test_measure_updates_are_typed_published_and_not_scored(
    start_intake: Any, isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    async with start_intake() as intake:
        put = await intake.put(f"/v1/households/{HOUSEHOLD}", "rural_revitalization", json=household_record(HOUSEHOLD))
        assert put.status_code == 200, put.text
        done = await intake.post("/v1/events", "medical_insurance", json=measure_update("ACK-1"))
        assert done.status_code == 202, done.text

        refused = await intake.post("/v1/events", "medical_insurance", json=measure_update("ACK-2", status="refused"))
        assert refused.status_code == 422
        assert refused.json()["detail"] == [
            {
                "loc": ["body", "payload", "note"],
                "msg": "Value error, a refused measure needs its reason in note",
                "type": "value_error",
            }
        ]
        unknown = await intake.post("/v1/events", "medical_insurance", json=measure_update("ACK-3", status="maybe"))
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "payload", "status"]
        not_allowed = await intake.post("/v1/events", "grid", json=measure_update("ACK-4"))
        assert not_allowed.status_code == 403
        later = await intake.post("/v1/events", "medical_insurance", json=medical_event(HOUSEHOLD, event_id="MED-1"))
        assert later.status_code == 202

        messages = await intake.published_messages(3)
        [(key, message)] = [(k, m) for k, m in messages if m.event_id == "ACK-1"]
        assert key == HOUSEHOLD and message.department == "medical_insurance"
        assert message.department_event.type == "measure_update"
        assert message.department_event.member_id == "M1" and message.department_event.reference == "YB-ACK-1"
        assert orjson.loads(message.department_event.payload_json) == department_payload(message.department_event)
        assert department_payload(message.department_event) == UPDATE

        settings: RiskSettings = isolated_settings(
            RiskSettings,
            topic_household_events=intake.settings.topic_household_events,
            topic_risk_assessments=intake.settings.topic_risk_assessments,
            topic_case_events=intake.settings.topic_case_events,
            consume_timeout_ms=200,
        )
        await provision(settings, RISK)
        db = Database(settings, settings.db_schema or RISK.schema)
        consumer = RiskConsumer(settings, db, load_policy(settings.policy_file))
        before = {outcome: _risk_events(outcome) for outcome in ("not_scored", "dead_lettered")}
        task = asyncio.create_task(consumer.run())
        try:
            await eventually(lambda: _at_least(consumer, 3), message="risk consumed the three records")

            async def assessed_later_event() -> bool:
                async with raw_transaction(db) as conn:
                    return bool(await conn.fetchval("select count(*) from assessments where 'MED-1' = any(event_ids)"))

            await eventually(assessed_later_event, message="the event after the acknowledgement assessed")
            async with raw_transaction(db) as conn:
                facts = {r["event_id"] for r in await conn.fetch("select event_id from facts")}
                acknowledged = await conn.fetchval("select count(*) from assessments where 'ACK-1' = any(event_ids)")
            assert "ACK-1" not in facts and "MED-1" in facts and acknowledged == 0
            assert _risk_events("not_scored") == before["not_scored"] + 1
            assert _risk_events("dead_lettered") == before["dead_lettered"]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await db.close()
        status = await intake.get("/v1/events/ACK-1", "medical_insurance")
        assert status.json()["type"] == "measure_update" and status.json()["payload"] == UPDATE


def _risk_events(outcome: str) -> float:
    return REGISTRY.get_sample_value("safetynet_risk_events_total", {"outcome": outcome}) or 0.0


async def _at_least(consumer: RiskConsumer, count: int) -> bool:
    return consumer.consumed >= count

"""Department events through the real Postgres and Kafka: single and batch posts, idempotency, status."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from safetynet_core.contracts import department_payload
from safetynet_core.testing import eventually
from safetynet_intake.samples import medical_event, ndjson

pytestmark = pytest.mark.integration


async def test_single_event_is_accepted_published_and_readable(start_intake: Any) -> None:
    async with start_intake() as intake:
        event = medical_event()
        response = await intake.post("/v1/events", "medical_insurance", json=event)
        assert response.status_code == 202, response.text
        assert response.json() == {"event_id": event["event_id"], "status": "accepted"}

        async def published() -> bool:
            return await intake.status_of(event["event_id"], "medical_insurance") == "published"

        await eventually(published, message="event published")
        [(key, message)] = await intake.published_messages(1)
        assert key == event["household_id"]
        assert message.event_id == event["event_id"]
        assert message.department == "medical_insurance"
        assert message.department_event.type == "medical_expense"
        assert message.department_event.member_id == "M1"
        assert department_payload(message.department_event)["out_of_pocket_cny"] == 12000

        body = (await intake.get(f"/v1/events/{event['event_id']}", "medical_insurance")).json()
        assert body["payload"]["inpatient"] is True
        assert body["household_id"] == event["household_id"]
        assert body["published_at"] is not None
        other_department = await intake.get(f"/v1/events/{event['event_id']}", "civil_affairs")
        assert other_department.status_code == 404
        assert other_department.json()["detail"][0]["loc"] == ["path", "event_id"]


async def test_same_id_same_body_is_a_duplicate_and_a_different_body_a_conflict(start_intake: Any) -> None:
    async with start_intake() as intake:
        event = medical_event()
        assert (await intake.post("/v1/events", "medical_insurance", json=event)).status_code == 202
        reordered = orjson.dumps(dict(reversed(list(event.items()))))
        again = await intake.post(
            "/v1/events", "medical_insurance", content=reordered, headers={"content-type": "application/json"}
        )
        assert again.status_code == 200, again.text
        assert again.json()["duplicate"] is True
        changed = {**event, "payload": {**event["payload"], "out_of_pocket_cny": 1}}
        conflict = await intake.post("/v1/events", "medical_insurance", json=changed)
        assert conflict.status_code == 409
        assert conflict.json() == {
            "detail": [
                {
                    "loc": ["body", "event_id"],
                    "type": "conflict",
                    "msg": "event_id was already used with a different body",
                }
            ]
        }
        stored = await intake.db.fetchval("select count(*) from events")
        queued = await intake.db.fetchval("select count(*) from outbox")
        assert (stored, queued) == (1, 1)


async def test_batch_keeps_good_lines_and_reports_bad_ones_by_line(start_intake: Any) -> None:
    async with start_intake() as intake:
        good = [medical_event(household_id=f"H{i:03d}") for i in range(5)]
        used = medical_event()
        assert (await intake.post("/v1/events", "medical_insurance", json=used)).status_code == 202
        lines = [
            good[0],  # 1 accepted
            b'{"event_id": "broken"',  # 2 invalid JSON
            good[1],  # 3 accepted
            medical_event(payload={"total_cost_cny": 1}),  # 4 payload fields missing
            {
                **medical_event(),
                "type": "disaster_loss",  # 5 type not granted
                "payload": {"disaster_type": "flood", "loss_cny": 1, "housing_damage": "none"},
            },
            good[2],
            good[3],
            good[4],  # 6-8 accepted
            good[0],  # 9 duplicate within the file
            {**good[1], "reference": "changed"},  # 10 conflict within the file
            used,  # 11 duplicate of a stored event
            {**used, "reference": "changed"},  # 12 conflict with a stored event
        ]
        response = await intake.post(
            "/v1/events:batch",
            "medical_insurance",
            content=ndjson(*lines),
            headers={"content-type": "application/x-ndjson"},
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["accepted"] == 5
        assert result["duplicates"] == 2
        assert [r["line"] for r in result["rejected"]] == [2, 4, 5, 10, 12]
        errors = {r["line"]: r["errors"] for r in result["rejected"]}
        assert errors[2][0]["type"] == "json_invalid"
        assert {tuple(e["loc"]) for e in errors[4]} == {
            ("payload", "out_of_pocket_cny"),
            ("payload", "inpatient"),
        }
        assert errors[5][0]["loc"] == ["type"]
        assert errors[10][0]["type"] == errors[12][0]["type"] == "conflict"

        messages = await intake.published_messages(6)
        assert sorted(m.event_id for _, m in messages) == sorted([used["event_id"], *(e["event_id"] for e in good)])

        repeat = await intake.post("/v1/events:batch", "medical_insurance", content=ndjson(*good))
        assert repeat.json() == {"accepted": 0, "duplicates": 5, "rejected": []}


async def test_status_advances_to_assessed_with_assessment_and_case_ids(start_intake: Any) -> None:
    from safetynet_core import kafka
    from safetynet_core.contracts import CaseEventMessage, RiskAssessmentMessage

    async with start_intake() as intake:
        event = medical_event()
        assert (await intake.post("/v1/events", "medical_insurance", json=event)).status_code == 202
        assessment_id, case_id = str(uuid.uuid4()), str(uuid.uuid4())
        producer = kafka.make_producer(intake.settings)
        await producer.start()
        try:
            await eventually(lambda: _is(intake, event["event_id"], "published"), message="published")
            await producer.send_and_wait(
                intake.settings.topic_risk_assessments,
                key=event["household_id"].encode(),
                value=RiskAssessmentMessage(
                    assessment_id=assessment_id,
                    household_id=event["household_id"],
                    event_ids=[event["event_id"]],
                    level="high",
                ).SerializeToString(),
            )
            await eventually(lambda: _is(intake, event["event_id"], "assessed"), message="assessed")
            await producer.send_and_wait(
                intake.settings.topic_case_events,
                key=event["household_id"].encode(),
                value=CaseEventMessage(
                    name="case.opened", case_id=case_id, household_id=event["household_id"]
                ).SerializeToString(),
            )

            async def has_case() -> bool:
                body = (await intake.get(f"/v1/events/{event['event_id']}", "medical_insurance")).json()
                return bool(body["case_id"] == case_id and body["assessment_id"] == assessment_id)

            await eventually(has_case, message="case id recorded")
        finally:
            await producer.stop()


async def _is(intake: Any, event_id: str, status: str) -> bool:
    return bool(await intake.status_of(event_id, "medical_insurance") == status)


async def test_metrics_count_outcomes_and_expose_the_outbox(start_intake: Any) -> None:
    async with start_intake(intake_run_status_consumer=False) as intake:
        event = medical_event()
        assert (await intake.post("/v1/events", "medical_insurance", json=event)).status_code == 202
        assert (await intake.post("/v1/events", "medical_insurance", json=event)).status_code == 200
        await eventually(lambda: _is(intake, event["event_id"], "published"), message="published")
        text = (await intake.http.get(intake.url + "/metrics")).text
        labels = 'department="medical_insurance",outcome="{}",type="medical_expense"'
        for outcome in ("accepted", "duplicate"):
            assert f"safetynet_intake_events_total{{{labels.format(outcome)}}}" in text
        posts = [line for line in text.splitlines() if line.startswith('safetynet_http_requests_total{method="POST"')]
        for status in (202, 200):  # the hot route's short way keeps the per-request metrics
            assert any(f'status="{status}"' in line for line in posts), (status, posts)
        for name in (
            "safetynet_intake_outbox_backlog",
            "safetynet_intake_outbox_oldest_age_seconds",
            "safetynet_intake_publish_latency_seconds_bucket",
            "safetynet_http_request_duration_seconds",
        ):
            assert name in text, name
        route_labels = '{method="POST",route="/v1/events",service="intake"}'
        assert f"safetynet_http_request_duration_seconds_count{route_labels}" in text

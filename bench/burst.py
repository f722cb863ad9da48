"""`make burst`: a flood's worth of department events through the running stack's own services.

BURST_EVENTS (default 10^6) events for BURST_HOUSEHOLDS households (default 10^5, registered first) go to intake
as 10,000-line NDJSON batches (BURST_SENDERS at a time): flood losses and medical bills well under the
thresholds, and, for BURST_CASES households (default 5,000), a flood that destroyed the house (a case each).
While it runs, every 2 s: each consumer group's lag, intake's outbox backlog, each service process's memory.

Reported, into bench/results/burst.json: the drain time of each stage from the start (intake accepted, relay
published, risk scored, cases opened, reports, notifications, event status), the peak lag of each group and of
the outbox, the peak memory of each process, and the checks: no event lost or processed twice, one case per
flagged household and none other, one webhook delivery per task.assigned.

Runs against the stack in $SAFETYNET_LOCAL_DIR (default .local) and reads its tables to verify (a verifier,
not a service)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from temporalio.client import Client

from bench import procs
from bench.stages import Receiver, group_lag, topic_records
from safetynet_core.testing import read_stack_env, serve
from safetynet_intake.clients import create_client
from safetynet_intake.samples import household_record, id_number
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.settings import Settings as WorkflowSettings

EVENTS = int(os.environ.get("BURST_EVENTS", "1000000"))
HOUSEHOLDS = int(os.environ.get("BURST_HOUSEHOLDS", "100000"))
CASES = int(os.environ.get("BURST_CASES", "5000"))
SENDERS = int(os.environ.get("BURST_SENDERS", "2"))
BATCH_LINES = 10_000
SAMPLE_SECONDS = 2.0
TIMEOUT_SECONDS = float(os.environ.get("BURST_TIMEOUT", "7200"))
REGION = "610327101"
RESULTS = Path(__file__).parent / "results"
# Consumer group → the topics it reads (the stack's default names).
HOUSEHOLD_EVENTS, ASSESSMENTS, CASE_EVENTS = (
    "safetynet.household-events.v1", "safetynet.risk-assessments.v1", "safetynet.case-events.v1",
)  # fmt: skip
GROUPS = {
    "risk": [HOUSEHOLD_EVENTS],
    "workflow": [ASSESSMENTS],
    "workflow-reports": [HOUSEHOLD_EVENTS, ASSESSMENTS],
    "notify": [CASE_EVENTS],
    "intake-status": [ASSESSMENTS, CASE_EVENTS],
}


def progress(message: str) -> None:
    print(f"[burst {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------- the data
@dataclass(frozen=True)
class Burst:
    run: str
    events: int = EVENTS
    households: int = HOUSEHOLDS
    cases: int = CASES

    def household(self, index: int) -> str:
        return f"HB{self.run}{index:06d}"

    def registry_batches(self) -> list[bytes]:
        batches = []
        for start in range(0, self.households, BATCH_LINES):
            lines = []
            for i in range(start, min(start + BATCH_LINES, self.households)):
                members = []
                for m in (1, 2):
                    number, born = id_number(i * 2 + m)
                    members.append({"member_id": f"M{m}", "name": f"成员{m}", "id_number": number,
                                    "birth_date": born, "labour_capacity": "full", "in_school": False})  # fmt: skip
                record = household_record(self.household(i), region_code=f"{REGION}{200 + i % 50:03d}",
                                          poverty_status="general", members=members,
                                          annual_net_income_cny=150_000)  # fmt: skip
                lines.append(orjson.dumps(record))
            batches.append(b"\n".join(lines))
        return batches

    def event_batch(self, number: int) -> bytes:
        """Batch `number` of the events: the first `cases` events destroy a house each (one household each),
        every other is a small flood loss or medical bill for any household."""
        now = datetime.now(UTC)
        # The destroyed houses are the households' latest housing news (a later partial damage would replace it).
        occurred, destroyed_at = (now - timedelta(hours=6)).isoformat(), (now - timedelta(hours=1)).isoformat()
        lines = []
        for i in range(number * BATCH_LINES, min((number + 1) * BATCH_LINES, self.events)):
            base = {"event_id": f"burst-{self.run}-{i}", "occurred_at": occurred, "reference": f"flood-{i}"}
            if i < self.cases:
                base["occurred_at"] = destroyed_at
                doc = {
                    **base,
                    "type": "disaster_loss",
                    "household_id": self.household(i),
                    "payload": {"disaster_type": "flood", "loss_cny": 90_000, "housing_damage": "destroyed"},
                }
            elif i % 2:
                doc = {
                    **base,
                    "type": "disaster_loss",
                    "household_id": self.household(i * 7919 % self.households),
                    "payload": {"disaster_type": "flood", "loss_cny": 2_000, "housing_damage": "partial"},
                }
            else:
                doc = {**base, "type": "medical_expense", "household_id": self.household(i * 7919 % self.households),
                       "member_id": "M1",
                       "payload": {"total_cost_cny": 800, "out_of_pocket_cny": 200, "inpatient": False}}  # fmt: skip
            lines.append(orjson.dumps(doc))
        return b"\n".join(lines)

    @property
    def batches(self) -> int:
        return -(-self.events // BATCH_LINES)


# --------------------------------------------------------------------------------------- the watching
@dataclass
class Watch:
    """Samples lag, backlog and memory; records when each stage has drained."""

    stack: dict[str, str]
    pool: asyncpg.Pool
    burst: Burst
    hook: str  # this run's receiver: deliveries to others (an earlier run's, long gone) are not its business
    started: float = field(default_factory=time.monotonic)
    peak_lag: dict[str, int] = field(default_factory=dict)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)
    drained_at: dict[str, float] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    intake_done: bool = False

    def processes(self) -> dict[str, int]:
        found = {}
        for pid_file in sorted((procs.local_dir() / "run").glob("*.pid")):
            with contextlib.suppress(OSError, ValueError):
                found[pid_file.stem] = int(pid_file.read_text().split()[0])
        return found

    async def sample(self) -> None:
        elapsed = time.monotonic() - self.started
        lags = {g: await group_lag(self.stack["KAFKA_BOOTSTRAP"], g, topics) for g, topics in GROUPS.items()}
        backlog = int(await self.pool.fetchval("select count(*) from intake.outbox where published_at is null"))
        lags["outbox"] = backlog
        for name, lag in lags.items():
            self.peak_lag[name] = max(self.peak_lag.get(name, 0), lag)
        for name, pid in self.processes().items():
            with contextlib.suppress(OSError):
                rss, _ = procs.memory_mib(pid)
                self.peak_rss_mib[name] = max(self.peak_rss_mib.get(name, 0.0), rss)
        self.samples.append({"t": round(elapsed, 1), **lags})
        if self.intake_done:
            await self._record_drains(lags, elapsed)
        progress(f"t={elapsed:6.0f}s " + " ".join(f"{k}={v:,}" for k, v in lags.items()))

    async def _record_drains(self, lags: dict[str, int], elapsed: float) -> None:
        cases = await self.pool.fetchval(
            "select count(*) from workflow.cases where household_id like $1", f"HB{self.burst.run}%"
        )
        pending = await self.pool.fetchval(
            "select count(*) from notify.deliveries where status <> 'sent' and address = $1", self.hook
        )
        done = {
            "relay": lags["outbox"] == 0,
            "risk": lags["outbox"] == 0 and lags["risk"] == 0,
            "cases": lags["workflow"] == 0 and cases >= self.burst.cases,
            "reports": lags["workflow-reports"] == 0,
            "notify": lags["notify"] == 0 and not pending and cases >= self.burst.cases,
            "intake status": lags["intake-status"] == 0 and cases >= self.burst.cases,
        }
        for stage, finished in done.items():
            if finished and stage not in self.drained_at:
                self.drained_at[stage] = round(elapsed, 1)
                progress(f"{stage} drained at {elapsed:.0f} s")

    @property
    def finished(self) -> bool:
        return len(self.drained_at) >= 7  # intake plus the six downstream stages


# --------------------------------------------------------------------------------------- the footprint
SCHEMAS = ("intake", "risk", "workflow", "notify")


@dataclass
class Footprint:
    """What the stack has written so far: WAL position, bytes per service schema, bytes per topic on disk."""

    wal_bytes: int  # the WAL position, in bytes from its start
    schema_bytes: dict[str, int]
    topic_bytes: dict[str, int]
    topic_records: dict[str, int]

    @classmethod
    async def take(cls, pool: asyncpg.Pool, bootstrap: str) -> Footprint:
        async with pool.acquire() as conn:
            wal = int(await conn.fetchval("select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"))
            rows = await conn.fetch(
                "select n.nspname, sum(pg_total_relation_size(c.oid))::bigint as size from pg_class c"
                " join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'm')"
                " and n.nspname = any($1::text[]) group by 1",
                list(SCHEMAS),
            )
        topics = (HOUSEHOLD_EVENTS, ASSESSMENTS, CASE_EVENTS)
        on_disk = {t: 0 for t in topics}
        data = procs.local_dir() / "kafka" / "data"
        for partition_dir in data.glob("safetynet.*-*") if data.exists() else []:
            topic = partition_dir.name.rsplit("-", 1)[0]
            if topic in on_disk:
                on_disk[topic] += sum(f.stat().st_size for f in partition_dir.glob("*.log"))
        return cls(wal, {r["nspname"]: int(r["size"]) for r in rows}, on_disk, await topic_records(bootstrap, topics))

    def growth_per_event(self, later: Footprint, events: int) -> dict[str, Any]:
        wal = later.wal_bytes - self.wal_bytes
        schemas = {s: (later.schema_bytes.get(s, 0) - self.schema_bytes.get(s, 0)) / events for s in SCHEMAS}
        records = {t: later.topic_records[t] - self.topic_records[t] for t in later.topic_records}
        per_record = {t: round((later.topic_bytes[t] - self.topic_bytes[t]) / max(1, n)) for t, n in records.items()}
        return {
            "wal_bytes_per_event": round(float(wal) / events),
            "postgres_bytes_per_event": {s: round(b) for s, b in schemas.items()},
            "postgres_bytes_per_event_total": round(sum(schemas.values())),
            "kafka_bytes_per_record": per_record,
            "kafka_records_per_event": {t: round(n / events, 4) for t, n in records.items()},
        }


async def history_events_per_case(stack: dict[str, str], pool: asyncpg.Pool, burst: Burst) -> int:
    """Events in the Temporal history of one of the burst's cases (opened, its screen task assigned)."""
    workflow_id = await pool.fetchval(
        "select workflow_id from workflow.cases where household_id like $1 limit 1", f"HB{burst.run}%"
    )
    if workflow_id is None:
        return 0
    client = await Client.connect(stack["TEMPORAL_ADDRESS"])
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return len(history.events)


# ------------------------------------------------------------------------------------------ the checks
async def verify(pool: asyncpg.Pool, burst: Burst, subscription: str) -> dict[str, int]:
    prefix = f"burst-{burst.run}-%"
    households = f"HB{burst.run}%"
    async with pool.acquire() as conn:
        stored = await conn.fetchval("select count(*) from intake.events where event_id like $1", prefix)
        facts = await conn.fetchrow(
            "select count(*) as n, count(distinct event_id) as d from risk.facts where event_id like $1", prefix
        )
        assessed = await conn.fetchrow(
            "select count(*) as n, count(distinct e) as d from risk.assessments a, unnest(a.event_ids) e"
            " where e like $1",
            prefix,
        )
        cases = await conn.fetchrow(
            "select count(*) as n, count(distinct household_id) as d,"
            " count(*) filter (where household_id >= $2) as other"
            " from workflow.cases where household_id like $1",
            households,
            burst.household(burst.cases),
        )
        assigned = await conn.fetchval(
            "select count(*) from workflow.timeline t join workflow.cases c using (case_id)"
            " where t.name = 'task.assigned' and c.household_id like $1",
            households,
        )
        deliveries = await conn.fetchrow(
            "select count(*) as n, count(distinct event_key) as d from notify.deliveries where recipient = $1",
            subscription,
        )
    return {
        "events_sent": burst.events,
        "events_stored_by_intake": stored,
        "lost_before_risk": burst.events - facts["d"],
        "events_stored_twice_by_risk": facts["n"] - facts["d"],
        "events_never_assessed": burst.events - assessed["d"],
        "events_in_two_assessments": assessed["n"] - assessed["d"],
        "flagged_households": burst.cases,
        "cases": cases["n"],
        "households_with_two_cases": cases["n"] - cases["d"],
        "missing_cases": burst.cases - cases["d"] + cases["other"],
        "cases_for_unflagged_households": cases["other"],
        "tasks_assigned": assigned,
        "webhook_deliveries": deliveries["n"],
        "duplicate_deliveries": deliveries["n"] - deliveries["d"],
        "missing_deliveries": assigned - deliveries["d"],
    }


# ------------------------------------------------------------------------------------------- the run
@dataclass(frozen=True)
class Subscription:
    """The burst's webhook subscription, and the admin's headers that can delete it."""

    subscription_id: str
    auth: dict[str, str]

    async def delete(self, stack: dict[str, str]) -> None:
        """Left active, it would have the stack post every later task.assigned of the region to a receiver
        that is gone (retried for hours: the next benchmark pays for them)."""
        async with httpx.AsyncClient(timeout=30) as http:
            url = f"{stack['NOTIFY_URL']}/v1/subscriptions/{self.subscription_id}"
            (await http.delete(url, headers=self.auth)).raise_for_status()


async def setup(stack: dict[str, str], pool: asyncpg.Pool, receiver_url: str) -> tuple[str, str, Subscription]:
    """Intake keys (registry; flood losses and medical bills) and a webhook subscription for task.assigned."""
    async with pool.acquire() as conn:
        await conn.execute("set search_path to intake")
        registry_key = (await create_client(conn, "rural_revitalization", "burst registry"))[1]
        events_key = (await create_client(conn, "emergency_management", "burst", ["disaster_loss", "medical_expense"]))[
            1
        ]
    password = uuid.uuid4().hex
    username = f"burst-{uuid.uuid4().hex[:6]}"
    await create_user(WorkflowSettings(), username=username, password=password, role="admin", region="")
    async with httpx.AsyncClient(timeout=30) as http:
        login = await http.post(f"{stack['WORKFLOW_URL']}/v1/auth/token",
                                data={"username": username, "password": password})  # fmt: skip
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        created = await http.post(
            f"{stack['NOTIFY_URL']}/v1/subscriptions",
            json={"url": receiver_url, "secret": "burst-webhook-secret-0123456789", "events": ["task.assigned"],
                  "region_prefix": REGION[:6]},
            headers=auth,
        )  # fmt: skip
        created.raise_for_status()
    return registry_key, events_key, Subscription(str(created.json()["subscription_id"]), auth)


async def register(stack: dict[str, str], burst: Burst, registry_key: str) -> None:
    async with httpx.AsyncClient(base_url=stack["INTAKE_URL"], timeout=600) as http:
        headers = {"Authorization": f"Bearer {registry_key}", "Content-Type": "application/x-ndjson"}
        for body in burst.registry_batches():
            (await http.post("/v1/households:batch", content=body, headers=headers)).raise_for_status()


async def drained(stack: dict[str, str], pool: asyncpg.Pool) -> None:
    while True:
        backlog = await pool.fetchval("select count(*) from intake.outbox where published_at is null")
        lags = [await group_lag(stack["KAFKA_BOOTSTRAP"], g, topics) for g, topics in GROUPS.items()]
        if not backlog and not any(lags):
            return
        await asyncio.sleep(SAMPLE_SECONDS)


async def post_batches(stack: dict[str, str], burst: Burst, events_key: str) -> int:
    queue = iter(range(burst.batches))
    accepted = 0
    headers = {"Authorization": f"Bearer {events_key}", "Content-Type": "application/x-ndjson"}

    async def sender(http: httpx.AsyncClient) -> None:
        nonlocal accepted
        for number in queue:
            body = await asyncio.to_thread(burst.event_batch, number)
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    response = await http.post("/v1/events:batch", content=body, headers=headers)
                    if response.status_code == 200:
                        result = response.json()
                        if result["rejected"]:
                            raise RuntimeError(f"batch {number} lines rejected: {result['rejected'][:3]}")
                        accepted += result["accepted"] + result["duplicates"]
                        break
                await asyncio.sleep(1.0)  # intake busy or restarting: send the batch again (idempotent)

    async with httpx.AsyncClient(base_url=stack["INTAKE_URL"], timeout=600) as http:
        await asyncio.gather(*(sender(http) for _ in range(SENDERS)))
    return accepted


async def main() -> int:
    stack = read_stack_env(procs.local_dir() / "stack.env")
    for key in ("DATABASE_URL", "KAFKA_BOOTSTRAP", "TEMPORAL_ADDRESS"):
        os.environ[key] = stack[key]
    burst = Burst(uuid.uuid4().hex[:6])
    pool = await asyncpg.create_pool(stack["DATABASE_URL"], min_size=1, max_size=3)
    receiver = Receiver()
    try:
        async with serve(receiver.app()) as receiver_url, contextlib.AsyncExitStack() as exits:
            hook = f"{receiver_url}/hook"
            registry_key, events_key, subscription = await setup(stack, pool, hook)
            exits.push_async_callback(subscription.delete, stack)
            await register(stack, burst, registry_key)
            progress(f"{burst.households:,} households registered; sending {burst.events:,} events")
            await drained(stack, pool)  # the registry records are through before the clock starts
            before = await Footprint.take(pool, stack["KAFKA_BOOTSTRAP"])
            watch = Watch(stack, pool, burst, hook)
            sending = asyncio.create_task(post_batches(stack, burst, events_key))
            while not watch.finished:
                if sending.done() and not watch.intake_done:
                    accepted = sending.result()
                    watch.intake_done = True
                    watch.drained_at["intake"] = round(time.monotonic() - watch.started, 1)
                    progress(f"intake accepted {accepted:,} events in {watch.drained_at['intake']:.0f} s")
                await watch.sample()
                if time.monotonic() - watch.started > TIMEOUT_SECONDS:
                    progress("timed out before every stage drained")
                    break
                await asyncio.sleep(SAMPLE_SECONDS)
            checks = await verify(pool, burst, subscription.subscription_id)
            checks["webhooks_received"] = receiver.received
            footprint = before.growth_per_event(await Footprint.take(pool, stack["KAFKA_BOOTSTRAP"]), burst.events)
            footprint["temporal_history_events_per_opened_case"] = await history_events_per_case(stack, pool, burst)
    finally:
        await pool.close()
    peak_memory = {name: round(mib, 1) for name, mib in sorted(watch.peak_rss_mib.items())}
    report = {
        "at": datetime.now(UTC).isoformat(),
        "events": burst.events,
        "households": burst.households,
        "flagged_households": burst.cases,
        "senders": SENDERS,
        "cpus": os.cpu_count(),
        "drain_seconds_from_start": watch.drained_at,
        "events_per_second_end_to_end": round(burst.events / max(watch.drained_at.values(), default=1), 1),
        "peak_lag": watch.peak_lag,
        "peak_rss_mib": peak_memory,
        "footprint": footprint,
        "checks": checks,
        "samples": watch.samples,
    }
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    (RESULTS / "burst.json").write_text(text)
    (RESULTS / f"burst-{datetime.now(UTC):%Y%m%dT%H%M%S}.json").write_text(text)
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2, ensure_ascii=False))
    failures = [k for k in ("lost_before_risk", "events_stored_twice_by_risk", "events_never_assessed",
                            "events_in_two_assessments", "households_with_two_cases", "missing_cases",
                            "duplicate_deliveries", "missing_deliveries") if checks[k]]  # fmt: skip
    if failures or not watch.finished:
        print(f"burst: FAILED {failures or 'not drained'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

"""Replica failover on the chaos stack run with two processes of every service (`REPLICAS=2`): under load,
one replica of each service in turn is killed with SIGKILL and stays down while the backlog drains.

Per kill the suite checks what the fault suite checks (nothing lost, no event processed twice, no duplicate
or missing case, no duplicate or missing notification) and two things more:
- the survivor takes the partitions: every consumer-group partition that received records after the kill
  has them all committed while the killed replica is still down (only the survivor can commit them);
- latency recovers: a flagged probe event's time from POST to its screen task, taken once the survivor
  has taken over, against the same probe's time measured before any kill in the same run.
The killed replica stays down while the next service's turn begins, so the suite ends on one process of each."""

from __future__ import annotations

import os
import signal
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import httpx

from safetynet_core.testing import eventually
from tests.chaos.harness import (
    CHAOS_DIR,
    Harness,
    Plan,
    Result,
    Scenario,
    chaos_stack,
    drain_cell,
    event,
    household,
    log,
    loss_cells,
    read_pid,
    render_table,
    wait_gone,
)

REPLICAS = 2
# The processes the split chaos stack runs, each as REPLICAS replicas (<name>-<k>.pid).
PROCESSES = ("intake", "relay", "risk", "workflow", "workflow-worker", "notify")
PROBES = 3
# Consumer groups notice a killed member after this long (the services' default is 20 s).
FAILOVER = {"SAFETYNET_KAFKA_SESSION_TIMEOUT_MS": "8000"}
# Latency has recovered when the probes' median is within this factor of the pre-kill median (plus the
# slack below, one scheduling hiccup of a shared 2-core machine).
RECOVERY_FACTOR = 3.0
RECOVERY_SLACK_S = 2.0


@dataclass
class ReplicaResult(Result):
    """A kill's fault-suite result, with the partition takeover and the probe latencies."""

    partitions_moved: int = 0  # consumer-group partitions with records after the kill
    partitions_stuck: list[str] = field(default_factory=list)  # of those, ones not committed to the end
    latency_before_s: float = 0.0
    latency_after_s: float = 0.0

    @property
    def latency_recovered(self) -> bool:
        return self.latency_after_s <= self.latency_before_s * RECOVERY_FACTOR + RECOVERY_SLACK_S

    @property
    def ok(self) -> bool:
        return super().ok and not self.partitions_stuck and self.latency_recovered


class Probes:
    """Flagged events for fresh households, timed from the POST to the case's screen task in the projection."""

    def __init__(self, harness: Harness, prefix: str) -> None:
        self.harness = harness
        self.prefix = prefix
        self.count = 0

    async def prepare(self, n: int) -> list[str]:
        ids = [f"{self.prefix}{self.count + i:04d}" for i in range(n)]
        self.count += n
        homes = [household(h, 900_000 + self.count * 10 + i) for i, h in enumerate(ids)]
        await self.harness.post_registry(Plan(self.prefix, homes, [], set()), time.monotonic() + 120)
        return ids

    async def latency(self) -> float:
        """The median of PROBES probes, one at a time."""
        ids = await self.prepare(PROBES)
        pool = await self.harness.db()
        timings = []
        async with httpx.AsyncClient(base_url=self.harness.stack["INTAKE_URL"], timeout=10) as client:
            for household_id in ids:
                department, doc = event(household_id, flagging=True)
                headers = {"Authorization": f"Bearer {self.harness.keys[department]}"}
                started = time.monotonic()
                (await client.post("/v1/events", json=doc, headers=headers)).raise_for_status()

                async def screened(household_id: str = household_id) -> bool:
                    query = "select count(*) from workflow.tasks where household_id = $1"
                    return bool(await pool.fetchval(query, household_id))

                await eventually(screened, timeout=120, interval=0.05, message=f"probe {household_id} screened")
                timings.append(time.monotonic() - started)
        return statistics.median(timings)


def kill_replica(process: str, replica: int, before_kill: Callable[[], Awaitable[None]]) -> Scenario:
    """SIGKILL one replica and leave it down."""
    pid_file = CHAOS_DIR / "run" / f"{process}-{replica}.pid"

    async def inject(_hold: float) -> None:
        await before_kill()
        pid = read_pid(pid_file)
        os.kill(pid, signal.SIGKILL)
        await wait_gone(pid)

    return Scenario(f"kill -9 {process}-{replica} of {REPLICAS}", inject)


def takeover(
    at_kill: dict[tuple[str, object], tuple[int, int]], now: dict[tuple[str, object], tuple[int, int]]
) -> tuple[int, list[str]]:
    """Partitions that got records after the kill, and those of them whose group has not committed them all."""
    moved = [key for key, (_, end) in now.items() if end > at_kill.get(key, (0, 0))[1]]
    stuck = [f"{group}/{tp}" for group, tp in moved if now[group, tp][0] < now[group, tp][1]]
    return len(moved), stuck


async def run_replica_suite(
    events_per_kill: int,
    load_seconds: float,
    seed: int | None = None,
    keep: bool = False,
    only: list[str] | None = None,
) -> list[ReplicaResult]:
    seed = seed if seed is not None else int(time.time()) % 1_000_000
    chosen = [p for p in PROCESSES if not only or p in only]
    results: list[ReplicaResult] = []
    async with chaos_stack(keep, replicas=REPLICAS, extra=FAILOVER) as harness:
        probes = Probes(harness, f"HP{seed % 10_000:04d}X")
        before = await probes.latency()
        log(f"probe latency with {REPLICAS} replicas of everything: {before:.2f}s")
        for index, process in enumerate(chosen):
            at_kill: dict[tuple[str, object], tuple[int, int]] = {}

            async def snapshot(into: dict[tuple[str, object], tuple[int, int]] = at_kill) -> None:
                into.update(await harness.group_positions())

            scenario = kill_replica(process, 1, snapshot)
            outcome = await harness.run_scenario(index, scenario, events_per_kill, load_seconds, 0, seed)
            result = ReplicaResult(**vars(outcome))
            result.partitions_moved, result.partitions_stuck = takeover(at_kill, await harness.group_positions())
            result.latency_before_s = before
            try:
                result.latency_after_s = await probes.latency()
            except (AssertionError, httpx.HTTPError, asyncpg.PostgresError) as exc:
                result.latency_after_s = float("inf")
                result.notes.append(f"probe: {exc}")
            log(
                f"{scenario.name}: {result.partitions_moved} partitions moved, stuck {result.partitions_stuck}; "
                f"probe latency {result.latency_after_s:.2f}s (before any kill {before:.2f}s)"
            )
            results.append(result)
    return results


def replica_table(results: list[ReplicaResult]) -> str:
    head = ("kill", "accepted", "lost", "dup events", "dup cases", "missing cases", "notif dup/missing",
            "partitions moved", "stuck", "latency before/after s", "drain s")  # fmt: skip
    rows = [head] + [
        (
            *loss_cells(r),
            f"{r.duplicated_notifications}/{r.missing_notifications}",
            str(r.partitions_moved),
            str(len(r.partitions_stuck)),
            f"{r.latency_before_s:.2f}/{r.latency_after_s:.2f}",
            drain_cell(r),
        )
        for r in results
    ]
    return render_table(rows)

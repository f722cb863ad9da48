"""Replica failover in `make test`: the chaos stack with two processes of every service; one replica of each
in turn is killed (SIGKILL) under load. Runs on its own stack (.local/chaos, other ports), never the shared one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.chaos` under --import-mode=importlib

from tests.chaos.replicas import RECOVERY_FACTOR, replica_table, run_replica_suite

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(900)
async def test_killing_a_replica_loses_nothing_and_the_survivor_takes_over() -> None:
    results = await run_replica_suite(events_per_kill=400, load_seconds=6)
    print("\n" + replica_table(results))
    for r in results:
        assert r.drained, f"{r.scenario}: backlog did not drain with the replica down ({r.notes})"
        assert r.lost == 0, f"{r.scenario}: {r.lost} accepted events lost"
        assert r.duplicated_events == 0, f"{r.scenario}: {r.duplicated_events} events processed twice"
        assert r.duplicated_cases == 0, f"{r.scenario}: {r.duplicated_cases} duplicate cases"
        assert r.missing_cases == r.spurious_cases == 0, f"{r.scenario}: cases missing or spurious"
        assert r.duplicated_notifications == 0, f"{r.scenario}: duplicate notifications"
        assert r.missing_notifications == 0, f"{r.scenario}: notifications missing"
        assert r.partitions_moved > 0, f"{r.scenario}: no records reached the consumer groups after the kill"
        assert not r.partitions_stuck, f"{r.scenario}: partitions the survivor did not take: {r.partitions_stuck}"
        assert r.latency_recovered, (
            f"{r.scenario}: probe latency {r.latency_after_s:.2f}s after the kill, "
            f"{r.latency_before_s:.2f}s before (allowed x{RECOVERY_FACTOR} + slack)"
        )

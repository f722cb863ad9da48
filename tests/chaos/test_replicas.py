"""Replica failover in `make test`: the chaos stack with two processes of every service; one replica of each
in turn is killed (SIGKILL) under load. Runs on its own stack (.local/chaos, other ports), never the shared one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.chaos` under --import-mode=importlib

from tests.chaos.harness import assert_nothing_lost_or_doubled
from tests.chaos.replicas import RECOVERY_FACTOR, replica_table, run_replica_suite

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(900)
async def test_killing_a_replica_loses_nothing_and_the_survivor_takes_over() -> None:
    results = await run_replica_suite(events_per_kill=400, load_seconds=6)
    print("\n" + replica_table(results))
    assert_nothing_lost_or_doubled(results)
    for r in results:
        assert r.partitions_moved > 0, f"{r.scenario}: no records reached the consumer groups after the kill"
        assert not r.partitions_stuck, f"{r.scenario}: partitions the survivor did not take: {r.partitions_stuck}"
        assert r.latency_recovered, (
            f"{r.scenario}: probe latency {r.latency_after_s:.2f}s after the kill, "
            f"{r.latency_before_s:.2f}s before (allowed x{RECOVERY_FACTOR} + slack)"
        )

"""The fault suite's short form in `make test`: 2,000 events, every scenario, Kafka stopped for 10 s
(30 s in `make chaos`). Runs on its own stack (.local/chaos, other ports), never the shared one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.chaos` under --import-mode=importlib

from tests.chaos.harness import run_suite, table

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
async def test_no_fault_loses_events_or_duplicates_cases_or_notifications() -> None:
    results = await run_suite(events=2000, kafka_hold=10, hold=2, load_seconds=12)
    print("\n" + table(results))
    for r in results:
        assert r.drained, f"{r.scenario}: backlog did not drain ({r.notes})"
        assert r.lost == 0, f"{r.scenario}: {r.lost} accepted events lost"
        assert r.duplicated_events == 0, f"{r.scenario}: {r.duplicated_events} events processed twice"
        assert r.duplicated_cases == 0, f"{r.scenario}: {r.duplicated_cases} duplicate cases"
        assert r.missing_cases == r.spurious_cases == 0, f"{r.scenario}: cases missing or spurious"
        assert r.duplicated_notifications == 0, f"{r.scenario}: duplicate notifications"
        assert r.missing_notifications == 0, f"{r.scenario}: notifications missing"

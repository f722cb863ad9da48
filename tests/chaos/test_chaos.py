"""The fault suite's short form in `make test`: 2,000 events, every scenario, Kafka stopped for 10 s
(30 s in `make chaos`). Runs on its own stack (.local/chaos, other ports), never the shared one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.chaos` under --import-mode=importlib

from tests.chaos.harness import assert_nothing_lost_or_doubled, run_suite, table

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
async def test_no_fault_loses_events_or_duplicates_cases_or_notifications() -> None:
    results = await run_suite(events=2000, kafka_hold=10, hold=2, load_seconds=12)
    print("\n" + table(results))
    assert_nothing_lost_or_doubled(results)

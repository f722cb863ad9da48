"""The backtest replays each household's history batch by batch (real Postgres, history made by the real
consumer from Kafka): a policy change that flips a case opening in the middle of a household's history is
reported at the events where it happens, and the policy in force reproduces every stored assessment."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from safetynet_core.contracts import now_utc
from safetynet_core.db import Database, raw_transaction
from safetynet_core.policy import Policy, load_policy
from safetynet_core.settings import DEFAULT_POLICY_FILE
from safetynet_core.testing import eventually, unique
from safetynet_risk.backtest import run_backtest
from safetynet_risk.consumer import RiskConsumer
from safetynet_risk.info import SERVICE
from safetynet_risk.messages import department_event, registry_record
from safetynet_risk.settings import Settings
from tests.integration.risk.test_risk_consumer import produce, running

pytestmark = pytest.mark.integration
POLICY = load_policy(DEFAULT_POLICY_FILE)
VILLAGE = "610327101201"
NOW = now_utc()


@pytest.fixture
async def settings(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> Settings:
    built: Settings = isolated_settings(Settings, consumer_group=unique("risk"), consume_timeout_ms=100)
    await provision(built, SERVICE)
    return built


def lower_medical_threshold(tmp_path: Path) -> Policy:
    """The candidate: a general household's trailing medical threshold down from 20,000 to 8,000 CNY."""
    data = copy.deepcopy(yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8")))
    data["version"] = "2026.2-lower-medical"
    (medical,) = [w for w in data["risk"]["warnings"] if w["id"] == "medical_trailing"]
    medical["thresholds"] = [{"when": {"poverty_status": "lifted"}, "min_cny": 5000}, {"min_cny": 8000}]
    path = tmp_path / "lower-medical.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_policy(path)


def bill(event_id: str, household_id: str, out_of_pocket: float, days_ago: int) -> tuple[str, bytes]:
    payload = {"total_cost_cny": out_of_pocket * 2, "out_of_pocket_cny": out_of_pocket, "inpatient": False}
    return household_id, department_event(
        event_id, household_id, "medical_expense", payload, NOW - timedelta(days=days_ago)
    )


# One event per batch, in this order: H5's case opening moves from its school dropout (d1) to its second
# medical bill (m2) under the candidate; H6's history never reaches either threshold.
HISTORY = [
    ("r5", ("H5", registry_record("r5", "H5", VILLAGE, "general", 200_000, 4, NOW - timedelta(days=90)))),
    ("r6", ("H6", registry_record("r6", "H6", VILLAGE, "general", 200_000, 4, NOW - timedelta(days=90)))),
    ("m1", bill("m1", "H5", 5000, 60)),  # 5,000 in 12 months: below both thresholds
    ("m6", bill("m6", "H6", 3000, 55)),
    ("m2", bill("m2", "H5", 5000, 50)),  # 10,000: the candidate's threshold (8,000) fires, the history's does not
    ("d1", ("H5", department_event("d1", "H5", "school_dropout", {"grade": 8}, NOW - timedelta(days=40)))),
    ("m3", bill("m3", "H5", 1000, 30)),  # joins the open case in both
]


async def feed_one_batch_at_a_time(settings: Settings, db: Database) -> int:
    consumer = RiskConsumer(settings, db, POLICY)
    async with running(consumer):
        for event_id, message in HISTORY:
            await produce(settings, [message])

            async def assessed(event_id: str = event_id) -> bool:
                async with raw_transaction(db) as conn:
                    return bool(
                        await conn.fetchval("select count(*) from assessments where $1 = any(event_ids)", event_id)
                    )

            await eventually(assessed, message=f"{event_id} assessed")
    async with raw_transaction(db) as conn:
        return int(await conn.fetchval("select count(*) from assessments"))


async def test_a_policy_change_that_moves_a_case_opening_mid_history_is_reported_at_its_events(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    stored = await feed_one_batch_at_a_time(settings, db)
    assert stored == len(HISTORY)

    unchanged = await run_backtest(db, POLICY)
    assert (unchanged.households, unchanged.assessments, unchanged.changes) == (2, stored, [])

    seen: list[tuple[int, int]] = []
    report = await run_backtest(db, lower_medical_threshold(tmp_path), page=1, progress=lambda *p: seen.append(p))
    assert seen == [(1, 2), (2, 2)]  # one household per page, the progress told each time
    assert [c.household_id for c in report.changes] == ["H5"]
    (h5,) = report.changes
    assert [(o.opens, o.event_ids, o.old_level) for o in h5.openings] == [
        (True, ["m2"], "none"),  # the candidate opens the case at the second bill ...
        (False, ["d1"], "medium"),  # ... so the dropout joins it rather than opening one
    ]
    assert (report.opening_changes, report.openings_new, report.openings_lost) == (1, 1, 1)
    assert h5.levels_changed >= 2 and (h5.old_level, h5.new_level) == ("medium", "high")  # m3: + medical warning
    assert report.as_dict()["changes"][0]["openings"][0]["event_ids"] == ["m2"]

    later = (NOW - timedelta(days=35)).date()  # only m3 is assessed as of then: no opening differs there
    since = await run_backtest(db, lower_medical_threshold(tmp_path), since=later)
    assert since.households == 1 and since.assessments == 1
    assert [c.openings for c in since.changes] == [[]] and since.changes[0].levels_changed == 1

"""Risk knows the case (issue 19, defect 4), against real Kafka and Postgres with both consumers running in
the app's lifespan: `case.opened` / `case.closed` on the case-events topic keep the household's case state,
the monitored-household thresholds apply only while its case is open, and evidence dated before a closure
opens no new case while evidence dated after it does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from safetynet_core import kafka
from safetynet_core.contracts import now_utc
from safetynet_core.db import Database, migrate, raw_transaction
from safetynet_core.kafka import header
from safetynet_core.testing import drop_schema, eventually, serve, unique
from safetynet_risk.case_consumer import CONSUMER, CaseEventsConsumer
from safetynet_risk.casestate import CaseChange, case_event
from safetynet_risk.info import SERVICE
from safetynet_risk.main import create_app
from safetynet_risk.messages import department_event, registry_record
from safetynet_risk.settings import Settings
from tests.integration.risk.test_risk_consumer import TopicReader

pytestmark = pytest.mark.integration
VILLAGE = "610327101201"
NOW = now_utc()
WELL_ABOVE_THE_LINE = 200_000  # 50,000 per capita for four: only an open case makes the household monitored


@pytest.fixture
async def settings(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> Settings:
    built: Settings = isolated_settings(
        Settings,
        consumer_group=unique("risk"),
        case_consumer_group=unique("risk-cases"),
        consume_timeout_ms=200,
        consume_batch=50,
    )
    await provision(built, SERVICE)
    return built


async def produce(settings: Settings, topic: str, household_id: str, *values: bytes) -> None:
    producer = kafka.make_producer(settings)
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, value=value, key=household_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def household_event(settings: Settings, household_id: str, value: bytes) -> None:
    await produce(settings, settings.topic_household_events, household_id, value)


async def case_events(settings: Settings, household_id: str, *values: bytes) -> None:
    await produce(settings, settings.topic_case_events, household_id, *values)


def stay(event_id: str, household_id: str, out_of_pocket: float, at: datetime) -> bytes:
    payload = {"total_cost_cny": out_of_pocket * 2, "out_of_pocket_cny": out_of_pocket, "inpatient": True}
    return department_event(event_id, household_id, "medical_expense", payload, at)


async def case_state(db: Database, household_id: str) -> Any:
    async with raw_transaction(db) as conn:
        return await conn.fetchrow("select * from case_states where household_id = $1", household_id)


async def assessment_of(db: Database, event_id: str) -> Any:
    """The assessment covering `event_id`, once there is one."""

    async def found() -> Any:
        async with raw_transaction(db) as conn:
            return await conn.fetchrow("select * from assessments where $1 = any(event_ids)", event_id)

    await eventually(found, message=f"{event_id} assessed")
    return await found()


async def until_case(db: Database, household_id: str, open_: bool) -> Any:
    async def reached() -> bool:
        state = await case_state(db, household_id)
        return state is not None and state["case_open"] is open_ and state["changed_at"] is not None

    await eventually(reached, message=f"{household_id}'s case {'open' if open_ else 'closed'}")
    return await case_state(db, household_id)


async def test_the_monitored_thresholds_apply_only_while_a_case_is_open(settings: Settings, db: Database) -> None:
    """A 7,000 CNY inpatient stay crosses the 6,000 threshold of monitored households while the case is open,
    and after the case closed (told on the case-events topic) the same stay no longer does."""
    household = "HM1"
    opened_at, closed_at = NOW - timedelta(days=10), NOW - timedelta(days=3)
    opening = case_event("case.opened", "C-HM1", household, opened_at, event_key="C-HM1:1")
    async with serve(create_app(settings)):
        await household_event(
            settings,
            household,
            registry_record("r1", household, VILLAGE, "general", WELL_ABOVE_THE_LINE, 4, NOW - timedelta(days=30)),
        )
        await case_events(settings, household, opening)
        state = await until_case(db, household, True)
        assert (state["case_id"], state["changed_at"]) == ("C-HM1", opened_at)

        await household_event(settings, household, stay("s1", household, 7000, NOW - timedelta(days=5)))
        while_open = await assessment_of(db, "s1")
        assert "medical_inpatient_stay" in while_open["warnings"] and while_open["opens_case"]

        await case_events(
            settings,
            household,
            case_event("task.assigned", "C-HM1", household, closed_at - timedelta(hours=1)),  # not followed
            case_event(
                "case.closed", "C-HM1", household, closed_at, event_key="C-HM1:9", close_reason="risk_eliminated"
            ),
            opening,  # replayed after the closure
            case_event("case.opened", "C-HM1", household, opened_at + timedelta(hours=1), event_key="C-HM1:late"),
        )
        state = await until_case(db, household, False)
        await eventually(lambda: _history_holds(db, household, 3), message="openings and closures recorded")
        assert (state["case_id"], state["closed_at"], state["close_reason"]) == ("C-HM1", closed_at, "risk_eliminated")

        await household_event(settings, household, stay("s2", household, 7000, NOW - timedelta(days=1)))
        after_closure = await assessment_of(db, "s2")
        assert "medical_inpatient_stay" not in after_closure["warnings"]
        assert not after_closure["opens_case"] and after_closure["level"] == "none"
    assert not (await case_state(db, household))["case_open"]  # the late and replayed openings changed nothing


async def _history_holds(db: Database, household_id: str, count: int) -> bool:
    async with raw_transaction(db) as conn:
        found = await conn.fetchval("select count(*) from case_history where household_id = $1", household_id)
    return bool(found == count)


async def test_evidence_dated_before_a_closure_does_not_reopen_the_case(settings: Settings, db: Database) -> None:
    """After the case closed at T, a school dropout dated before T (arriving after the closure) is assessed
    with its score and warning but opens no case, and says why; one dated after T opens a case again. Poison
    on the case-events topic goes to its dead-letter topic and the consumer keeps going."""
    household = "HS1"
    closed_at = NOW - timedelta(days=2)
    dlq_topic = settings.dlq_topic(settings.topic_case_events, CONSUMER)
    async with serve(create_app(settings)), TopicReader(settings, dlq_topic) as dlq:
        await household_event(
            settings,
            household,
            registry_record("r1", household, VILLAGE, "general", WELL_ABOVE_THE_LINE, 4, NOW - timedelta(days=60)),
        )
        await case_events(
            settings,
            household,
            b"\xff\xff not protobuf",
            case_event("case.closed", "", household, closed_at),  # no case id
            case_event("case.opened", "C-HS1", household, NOW - timedelta(days=20)),
            case_event("case.closed", "C-HS1", household, closed_at, close_reason="not_eligible"),
        )
        await until_case(db, household, False)

        await household_event(
            settings,
            household,
            department_event("d-stale", household, "school_dropout", {"grade": 8}, NOW - timedelta(days=4)),
        )
        stale = await assessment_of(db, "d-stale")
        assert stale["warnings"] == ["school_dropout"] and stale["score"] >= 40 and stale["level"] != "none"
        assert not stale["opens_case"]
        reasons = {reason["rule"]: reason for reason in _reasons(stale)}
        why = reasons["closed_case_stale_evidence"]
        assert (
            why["points"] == 0
            and closed_at.date().isoformat() in why["reason_en"]
            and "not_eligible" in why["reason_zh"]
        )

        await household_event(
            settings,
            household,
            department_event("d-fresh", household, "school_dropout", {"grade": 8}, NOW - timedelta(hours=1)),
        )
        fresh = await assessment_of(db, "d-fresh")
        assert fresh["opens_case"]
        assert "closed_case_stale_evidence" not in {reason["rule"] for reason in _reasons(fresh)}

        async def dead_lettered() -> bool:
            return len(await dlq.poll()) >= 2

        await eventually(dead_lettered, message="poison case events dead-lettered")
    assert sorted(header(record, "dlq.reason") or "" for record in dlq.records) == ["invalid", "undecodable"]


def _reasons(assessment: Any) -> list[dict[str, Any]]:
    reasons: list[dict[str, Any]] = orjson.loads(assessment["reasons"])
    return reasons


async def test_households_the_old_flag_marked_start_with_an_open_case_until_their_case_events_decide(
    isolated_settings: Callable[..., Any],
) -> None:
    """Upgrading a database of the old `households.monitored` flag: those households keep counting as
    monitored (their openings may be past the topic's retention), and any case event of theirs decides."""
    settings: Settings = isolated_settings(Settings)
    schema = settings.db_schema or ""
    await asyncio.to_thread(migrate, settings, schema, SERVICE.migrations_dir, "risk_0001")
    try:
        conn = await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": schema})
        try:
            await conn.execute(
                """insert into households (household_id, region_code, poverty_status, annual_net_income_cny,
                       members, recorded_at, record_event_id, monitored)
                   select household_id, $1, 'general', 1, '[]', now(), 'r', flagged
                   from unnest(array['HF', 'HN'], array[true, false]) as h(household_id, flagged)""",
                VILLAGE,
            )
            await asyncio.to_thread(migrate, settings, schema, SERVICE.migrations_dir)
            rows = await conn.fetch("select household_id, case_open from case_states")
            assert [tuple(row) for row in rows] == [("HF", True)]
        finally:
            await conn.close()
        db = Database(settings, schema)
        try:
            await CaseEventsConsumer(settings, db).store(
                [CaseChange("k", "HF", "C-HF", True, NOW - timedelta(days=400), "risk_eliminated")]
            )
            assert not (await case_state(db, "HF"))["case_open"]
        finally:
            await db.close()
    finally:
        await drop_schema(settings.asyncpg_dsn, schema)

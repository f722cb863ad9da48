"""The consumer's database work for one batch, on one asyncpg connection inside one transaction:
store facts idempotently, keep registry baselines, score every household with new facts, record
assessments. Events for households the registry has not sent yet wait until it does."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from safetynet_core.policy import Policy
from safetynet_risk import metrics
from safetynet_risk.engine import Scored, assess
from safetynet_risk.messages import Incoming
from safetynet_risk.state import REGISTRY_RECORD, RegistryRecord, StoredFact, build_state

ASSESSMENT_NAMESPACE = uuid.UUID("6b1f3c52-7d0e-4c57-9a55-2f0f6a1e9b11")

UPSERT_HOUSEHOLDS = """
insert into households (household_id, region_code, poverty_status, annual_net_income_cny, members,
                        recorded_at, record_event_id)
select * from unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::jsonb[], $6::timestamptz[],
                     $7::text[])
on conflict (household_id) do update set
    region_code = excluded.region_code, poverty_status = excluded.poverty_status,
    annual_net_income_cny = excluded.annual_net_income_cny, members = excluded.members,
    recorded_at = excluded.recorded_at, record_event_id = excluded.record_event_id, updated_at = now()
where households.recorded_at <= excluded.recorded_at
"""

HOUSEHOLD_FACTS = """
select f.household_id, f.event_id, f.type, f.member_id, f.occurred_at, f.payload, f.seq,
       f.assessment_id is null as pending
from facts f where f.household_id = any($1::text[])
"""

ASSESSMENT_COLUMNS = (
    "assessment_id",
    "household_id",
    "region_code",
    "category",
    "level",
    "score",
    "risk_types",
    "warnings",
    "reasons",
    "opens_case",
    "policy_version",
    "event_ids",
    "assessed_at",
    "as_of",
    "fact_seq",
    "income_pc",
    "adjusted_income_pc",
    "poverty_status",
)
ARRAY_COLUMNS = ("risk_types", "warnings", "event_ids")
# Ragged list columns travel as array literals (text) and are cast back per row.
INSERT_ASSESSMENTS = f"""
insert into assessments ({", ".join(ASSESSMENT_COLUMNS)})
select assessment_id, household_id, region_code, category, level, score, risk_types::text[], warnings::text[],
       reasons, opens_case, policy_version, event_ids::text[], assessed_at, as_of, fact_seq, income_pc,
       adjusted_income_pc, poverty_status
from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::text[],
            $9::jsonb[], $10::bool[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[],
            $15::int8[], $16::float8[], $17::float8[], $18::text[]) as u({", ".join(ASSESSMENT_COLUMNS)})
"""

MARK_ASSESSED = """
update facts f set assessment_id = a.assessment_id
from unnest($1::text[], $2::text[]) as a(event_id, assessment_id) where f.event_id = a.event_id
"""


@dataclass
class BatchOutcome:
    new_facts: int
    duplicates: int
    waiting: int
    assessments: list[dict[str, Any]]


def registry_from_row(row: Any) -> RegistryRecord:
    payload = {
        "region_code": row["region_code"],
        "poverty_status": row["poverty_status"],
        "annual_net_income_cny": row["annual_net_income_cny"],
        "members": orjson.loads(row["members"]),
    }
    return RegistryRecord.from_payload(row["household_id"], row["recorded_at"], payload)


def fact_from_row(row: Any) -> StoredFact:
    return StoredFact(
        event_id=row["event_id"],
        type=row["type"],
        occurred_at=row["occurred_at"],
        payload=orjson.loads(row["payload"]),
        member_id=row["member_id"],
    )


def assessment_row(
    scored: Scored, registry: RegistryRecord, as_of: datetime, fact_seq: int, assessed_at: datetime
) -> dict[str, Any]:
    """The stored (and published) form of one assessment; its id derives from household and events."""
    assessment_id = str(
        uuid.uuid5(ASSESSMENT_NAMESPACE, registry.household_id + "|" + "|".join(scored.event_ids))
    )
    return {
        "assessment_id": assessment_id,
        "household_id": registry.household_id,
        "region_code": registry.region_code,
        "category": scored.category,
        "level": scored.level,
        "score": scored.score,
        "risk_types": scored.risk_types,
        "warnings": scored.warnings,
        "reasons": [r.__dict__ for r in scored.reasons],
        "opens_case": scored.opens_case,
        "policy_version": scored.policy_version,
        "event_ids": scored.event_ids,
        "assessed_at": assessed_at,
        "as_of": as_of,
        "fact_seq": fact_seq,
        "income_pc": scored.income_pc,
        "adjusted_income_pc": scored.adjusted_income_pc,
        "poverty_status": scored.poverty_status,
    }


EXISTING_FACTS = "select event_id from facts where event_id = any($1::text[])"

# New facts go in already marked with the assessment that covers them (None while the household waits for
# its registry record), so a batch never rewrites the rows it has just inserted.
INSERT_NEW_FACTS = """
insert into facts (event_id, household_id, type, member_id, occurred_at, payload, assessment_id)
select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::text[])
on conflict (event_id) do nothing
returning event_id, household_id, seq
"""


class ConcurrentWrite(Exception):
    """Another transaction stored some of this batch's events after the batch looked; retry the batch."""


def _fact_of(item: Incoming) -> StoredFact:
    """The stored form of an incoming event (a registry record is stored as a fact too)."""
    if item.fact is not None:
        return item.fact
    assert item.registry is not None
    return StoredFact(
        event_id=item.event_id,
        type=REGISTRY_RECORD,
        occurred_at=item.registry.recorded_at,
        payload=item.registry.as_payload(),
    )


async def _new_items(conn: asyncpg.Connection, incoming: Sequence[Incoming]) -> list[Incoming]:
    """The batch's events not stored yet (first occurrence of an id repeated inside the batch)."""
    seen = {row["event_id"] for row in await conn.fetch(EXISTING_FACTS, [item.event_id for item in incoming])}
    new = []
    for item in incoming:
        if item.event_id not in seen:
            seen.add(item.event_id)
            new.append(item)
    return new


async def _insert_facts(
    conn: asyncpg.Connection, new: Sequence[Incoming], facts: Sequence[StoredFact], covering: dict[str, str]
) -> dict[str, int]:
    """Insert the new facts (`facts[i]` stores `new[i]`), each with the id of the assessment covering it;
    returns {event id: seq}. Raises ConcurrentWrite when another transaction got some of them in first."""
    inserted = await conn.fetch(
        INSERT_NEW_FACTS,
        [item.event_id for item in new],
        [item.household_id for item in new],
        [fact.type for fact in facts],
        [fact.member_id for fact in facts],
        [fact.occurred_at for fact in facts],
        [orjson.dumps(dict(fact.payload)).decode() for fact in facts],
        [covering.get(item.event_id) for item in new],
    )
    if len(inserted) != len(new):
        raise ConcurrentWrite(f"{len(new) - len(inserted)} of the batch's events were stored concurrently")
    return {row["event_id"]: row["seq"] for row in inserted}


async def _store_registry(conn: asyncpg.Connection, incoming: Sequence[Incoming], new_ids: set[str]) -> None:
    latest: dict[str, Incoming] = {}
    for item in incoming:
        if item.registry is not None and item.event_id in new_ids:
            current = latest.get(item.household_id)
            if current is None or current.occurred_at <= item.occurred_at:
                latest[item.household_id] = item
    if not latest:
        return
    records = [item.registry for item in latest.values() if item.registry is not None]
    await conn.execute(
        UPSERT_HOUSEHOLDS,
        [r.household_id for r in records],
        [r.region_code for r in records],
        [r.poverty_status for r in records],
        [r.annual_net_income_cny for r in records],
        [orjson.dumps(r.as_payload()["members"]).decode() for r in records],
        [r.recorded_at for r in records],
        [item.event_id for item in latest.values()],
    )


def score_household(
    policy: Policy,
    registry: RegistryRecord,
    rows: Sequence[Any],
    monitored: bool,
    now: datetime,
    new: Sequence[StoredFact] = (),
) -> tuple[dict[str, Any], datetime] | None:
    """Score one household from its stored facts (`rows`) and the batch's new ones; None when nothing is
    pending. Returns the assessment row (its `fact_seq` still to fill in) and the as-of moment."""
    pending_rows = [row for row in rows if row["pending"]]
    if not pending_rows and not new:
        return None
    pending_at = [row["occurred_at"] for row in pending_rows] + [fact.occurred_at for fact in new]
    as_of = min(now, max(pending_at))
    events = [fact_from_row(row) for row in rows if row["type"] != REGISTRY_RECORD]
    events.extend(fact for fact in new if fact.type != REGISTRY_RECORD)
    state = build_state(registry, events, policy.risk, as_of)
    trigger_ids = [row["event_id"] for row in pending_rows] + [fact.event_id for fact in new]
    scored = assess(state, policy, trigger_ids=trigger_ids, previously_monitored=monitored)
    return assessment_row(scored, registry, as_of, 0, now), as_of


async def process_batch(
    conn: asyncpg.Connection, incoming: Sequence[Incoming], policy: Policy, now: datetime
) -> BatchOutcome:
    """All database work for one batch (the caller owns the transaction): look up which events are new,
    keep registry baselines, score each touched household from its stored facts plus the new ones in
    memory, then insert the new facts already marked with their assessment, and the assessments."""
    new = await _new_items(conn, incoming) if incoming else []
    if not new:
        return BatchOutcome(new_facts=0, duplicates=len(incoming), waiting=0, assessments=[])
    await _store_registry(conn, new, {item.event_id for item in new})
    new_facts = [_fact_of(item) for item in new]
    new_by_household: dict[str, list[StoredFact]] = defaultdict(list)
    for item, fact in zip(new, new_facts, strict=True):
        new_by_household[item.household_id].append(fact)
    registries = {
        row["household_id"]: row
        for row in await conn.fetch(
            "select * from households where household_id = any($1::text[])", sorted(new_by_household)
        )
    }
    facts_by_household: dict[str, list[Any]] = defaultdict(list)
    for row in await conn.fetch(HOUSEHOLD_FACTS, list(registries)):
        facts_by_household[row["household_id"]].append(row)

    assessments = []
    covering: dict[str, str] = {}  # event id → the assessment that covers it
    for household_id, household_row in registries.items():
        started = time.perf_counter()
        scored = score_household(
            policy,
            registry_from_row(household_row),
            facts_by_household[household_id],
            household_row["monitored"],
            now,
            new_by_household[household_id],
        )
        metrics.SCORING_SECONDS.observe(time.perf_counter() - started)
        if scored is not None:
            row = scored[0]
            assessments.append(row)
            for event_id in row["event_ids"]:
                covering[event_id] = row["assessment_id"]
    seqs = await _insert_facts(conn, new, new_facts, covering)
    for row in assessments:
        household_id = row["household_id"]
        stored = [fact["seq"] for fact in facts_by_household[household_id]]
        row["fact_seq"] = max(stored + [seqs[fact.event_id] for fact in new_by_household[household_id]])
    if assessments:
        waited = [
            (fact["event_id"], covering[fact["event_id"]])
            for row in assessments
            for fact in facts_by_household[row["household_id"]]
            if fact["pending"]
        ]
        await _store_assessments(conn, assessments, waited)
    waiting = sum(1 for item in new if item.household_id not in registries)
    return BatchOutcome(
        new_facts=len(new), duplicates=len(incoming) - len(new), waiting=waiting, assessments=assessments
    )


async def _store_assessments(
    conn: asyncpg.Connection, rows: list[dict[str, Any]], waited: Sequence[tuple[str, str]]
) -> None:
    """Insert assessments, mark the stored facts that waited for them, flag households opening a case."""
    stored = [{**row, "reasons": orjson.dumps(row["reasons"]).decode()} for row in rows]
    columns = [
        [_pg_array(row[name]) if name in ARRAY_COLUMNS else row[name] for row in stored]
        for name in ASSESSMENT_COLUMNS
    ]
    await conn.execute(INSERT_ASSESSMENTS, *columns)
    if waited:
        await conn.execute(MARK_ASSESSED, [p[0] for p in waited], [p[1] for p in waited])
    flagged = [row["household_id"] for row in rows if row["opens_case"]]
    if flagged:
        await conn.execute(
            "update households set monitored = true where household_id = any($1::text[]) and not monitored",
            flagged,
        )


def _pg_array(values: Sequence[str]) -> str:
    escaped = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(escaped) + "}"


async def unpublished(conn: asyncpg.Connection, limit: int = 5000) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select * from assessments where published_at is null order by assessed_at limit $1", limit
    )
    return [{**dict(row), "reasons": orjson.loads(row["reasons"])} for row in rows]


async def mark_published(conn: asyncpg.Connection, assessment_ids: Sequence[str]) -> None:
    await conn.execute(
        "update assessments set published_at = now() where assessment_id = any($1::text[])",
        list(assessment_ids),
    )

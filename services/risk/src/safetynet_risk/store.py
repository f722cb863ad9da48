"""The consumer's database work for one batch, on one asyncpg connection inside one transaction:
store facts idempotently, keep registry baselines, score every household with new facts, record
assessments. Events for households the registry has not sent yet wait until it does."""

from __future__ import annotations

import asyncio
import hashlib
import operator
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from safetynet_core.policy import Policy
from safetynet_core.policy.risk import RiskPolicy
from safetynet_risk import metrics
from safetynet_risk.cache import CachedHousehold, HouseholdCache
from safetynet_risk.engine import Scored, assess
from safetynet_risk.messages import Incoming
from safetynet_risk.state import REGISTRY_RECORD, PreparedFact, RegistryRecord, StoredFact, build_prepared_state

YIELD_EVERY = 500  # households scored between yields to the event loop
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
_assessment_values = operator.itemgetter(*ASSESSMENT_COLUMNS)
_REASONS_AT = ASSESSMENT_COLUMNS.index("reasons")

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
    # Households this batch scored, as they stand once its transaction commits (for the HouseholdCache).
    cache_updates: dict[str, CachedHousehold] = field(default_factory=dict)


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


_NAMESPACE_BYTES = ASSESSMENT_NAMESPACE.bytes


def assessment_id_of(household_id: str, event_ids: Sequence[str]) -> str:
    """An assessment's id: from its household and the (sorted) ids of the events it covers. Exactly
    `str(uuid.uuid5(ASSESSMENT_NAMESPACE, household_id + "|" + "|".join(event_ids)))`, without the UUID object."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + (household_id + "|" + "|".join(event_ids)).encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def assessment_row(
    scored: Scored, registry: RegistryRecord, as_of: datetime, fact_seq: int, assessed_at: datetime, assessment_id: str
) -> dict[str, Any]:
    """The stored (and published) form of one assessment (`assessment_id` from `assessment_id_of`)."""
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
# its registry record), so a batch never rewrites the rows it has just inserted. They are copied in (the batch
# already left out the stored ones; one stored meanwhile by another transaction is a unique violation), with
# seqs drawn from the column's own sequence in the batch's order, as an insert would number them.
FACT_COLUMNS = ("event_id", "household_id", "type", "member_id", "occurred_at", "payload", "assessment_id", "seq")
NEXT_FACT_SEQS = "select nextval('facts_seq_seq') from generate_series(1, $1::int)"


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
    returns {household id: highest new seq}. Raises ConcurrentWrite when another transaction got some of
    them in first."""
    seqs = [row[0] for row in await conn.fetch(NEXT_FACT_SEQS, len(new))]
    dumps = orjson.dumps
    records = [
        (
            item.event_id,
            item.household_id,
            fact.type,
            fact.member_id,
            fact.occurred_at,
            dumps(dict(fact.payload)).decode(),
            covering.get(item.event_id),
            seq,
        )
        for item, fact, seq in zip(new, facts, seqs, strict=True)
    ]
    try:
        await conn.copy_records_to_table("facts", records=records, columns=FACT_COLUMNS)
    except asyncpg.UniqueViolationError as exc:
        raise ConcurrentWrite(f"some of the batch's events were stored concurrently: {exc}") from exc
    highest: dict[str, int] = {}
    for item, seq in zip(new, seqs, strict=True):
        if seq > highest.get(item.household_id, 0):
            highest[item.household_id] = seq
    return highest


def _latest_registry(new: Sequence[Incoming]) -> dict[str, Incoming]:
    """Per household, the batch's latest registry record (the later one of equal moments)."""
    latest: dict[str, Incoming] = {}
    for item in new:
        if item.registry is not None:
            current = latest.get(item.household_id)
            if current is None or current.occurred_at <= item.occurred_at:
                latest[item.household_id] = item
    return latest


async def _store_registry(conn: asyncpg.Connection, latest: dict[str, Incoming]) -> None:
    """Upsert the batch's latest registry records; an older record than the stored one changes nothing."""
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


@dataclass
class _Household:
    """What scoring a household needs: its registry baseline, `monitored`, its stored department events,
    the stored facts still waiting for an assessment (event id, moment) and the highest stored fact seq."""

    registry: RegistryRecord
    monitored: bool
    events: tuple[PreparedFact, ...]
    pending: list[tuple[str, datetime]]
    max_seq: int


async def _fetch_households(
    conn: asyncpg.Connection, household_ids: list[str], policy: RiskPolicy
) -> dict[str, _Household]:
    """The households (with a registry record) among `household_ids`, with their stored facts."""
    registries = {
        row["household_id"]: row
        for row in await conn.fetch("select * from households where household_id = any($1::text[])", household_ids)
    }
    if not registries:
        return {}
    facts_by_household: dict[str, list[Any]] = defaultdict(list)
    for row in await conn.fetch(HOUSEHOLD_FACTS, list(registries)):
        facts_by_household[row["household_id"]].append(row)
    found = {}
    for household_id, row in registries.items():
        facts = facts_by_household[household_id]
        found[household_id] = _Household(
            registry=registry_from_row(row),
            monitored=row["monitored"],
            events=tuple(PreparedFact(fact_from_row(f), policy) for f in facts if f["type"] != REGISTRY_RECORD),
            pending=[(f["event_id"], f["occurred_at"]) for f in facts if f["pending"]],
            max_seq=max((f["seq"] for f in facts), default=0),
        )
    return found


def _from_cache(cached: CachedHousehold, latest: RegistryRecord | None, policy: RiskPolicy) -> _Household:
    """A cached household as the batch's registry upsert leaves it."""
    registry = cached.registry
    if latest is not None and registry.recorded_at <= latest.recorded_at:
        registry = latest
    events = cached.events
    if events and events[0].policy is not policy:
        events = tuple(PreparedFact(e.fact, policy) for e in events)
    return _Household(registry, cached.monitored, events, [], cached.max_seq)


def score_household(
    policy: Policy,
    household: _Household,
    now: datetime,
    new: Sequence[StoredFact],
    trigger_ids: Sequence[str],
    assessment_id: str,
) -> tuple[dict[str, Any], tuple[PreparedFact, ...]]:
    """Score one household from its stored facts and the batch's new ones, triggered by `trigger_ids` (its
    waiting facts and the new ones). Returns the assessment row (its `fact_seq` still to fill in) and every
    department event the household now has (prepared)."""
    pending_at = [at for _, at in household.pending] + [fact.occurred_at for fact in new]
    as_of = min(now, max(pending_at))
    events = household.events + tuple(PreparedFact(fact, policy.risk) for fact in new if fact.type != REGISTRY_RECORD)
    state = build_prepared_state(household.registry, events, policy.risk, as_of)
    scored = assess(state, policy, trigger_ids=trigger_ids, previously_monitored=household.monitored)
    return assessment_row(scored, household.registry, as_of, 0, now, assessment_id), events


async def process_batch(
    conn: asyncpg.Connection,
    incoming: Sequence[Incoming],
    policy: Policy,
    now: datetime,
    cache: HouseholdCache | None = None,
) -> BatchOutcome:
    """All database work for one batch (the caller owns the transaction): look up which events are new,
    keep registry baselines, score each touched household from its stored facts (from `cache` when it
    has them) plus the new ones in memory, then insert the new facts already marked with their assessment,
    and the assessments. The outcome's `cache_updates` are for the cache once the transaction committed."""
    new = await _new_items(conn, incoming) if incoming else []
    if not new:
        return BatchOutcome(new_facts=0, duplicates=len(incoming), waiting=0, assessments=[])
    latest = _latest_registry(new)
    await _store_registry(conn, latest)
    new_facts = [_fact_of(item) for item in new]
    new_by_household: dict[str, list[StoredFact]] = defaultdict(list)
    for item, fact in zip(new, new_facts, strict=True):
        new_by_household[item.household_id].append(fact)

    risk = policy.risk
    households: dict[str, _Household] = {}
    missing = []
    for household_id in new_by_household:
        cached = cache.get(household_id) if cache is not None else None
        if cached is None:
            missing.append(household_id)
        else:
            record = latest.get(household_id)
            households[household_id] = _from_cache(cached, None if record is None else record.registry, risk)
    if missing:
        households.update(await _fetch_households(conn, sorted(missing), risk))
        households = {h: households[h] for h in new_by_household if h in households}  # in the batch's order

    # Which assessment covers each new (or waiting) fact is known before scoring (its id derives from the
    # household and the events), so the facts go in while the households are scored.
    covering: dict[str, str] = {}  # event id → the assessment that covers it
    triggers: dict[str, tuple[list[str], str]] = {}  # household → (trigger event ids, its assessment id)
    for household_id, household in households.items():
        trigger_ids = [event_id for event_id, _ in household.pending]
        trigger_ids.extend(fact.event_id for fact in new_by_household[household_id])
        assessment_id = assessment_id_of(household_id, sorted(trigger_ids))
        triggers[household_id] = trigger_ids, assessment_id
        for event_id in trigger_ids:
            covering[event_id] = assessment_id
    inserting = asyncio.ensure_future(_insert_facts(conn, new, new_facts, covering))
    try:
        await asyncio.sleep(0)  # the insert is sent
        assessments = []
        events_of: dict[str, tuple[PreparedFact, ...]] = {}
        for count, (household_id, household) in enumerate(households.items(), 1):
            started = time.perf_counter()
            row, events_of[household_id] = score_household(
                policy, household, now, new_by_household[household_id], *triggers[household_id]
            )
            metrics.SCORING_SECONDS.observe(time.perf_counter() - started)
            assessments.append(row)
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the connection send the rest of the insert
        seqs = await inserting
    finally:
        if not inserting.done():  # scoring failed: the transaction rolls back once the insert is done
            await asyncio.gather(inserting, return_exceptions=True)
    updates: dict[str, CachedHousehold] = {}
    for row in assessments:
        household_id = row["household_id"]
        household = households[household_id]
        row["fact_seq"] = max(household.max_seq, seqs[household_id])
        updates[household_id] = CachedHousehold(
            registry=household.registry,
            monitored=household.monitored or row["opens_case"],
            events=events_of[household_id],
            max_seq=row["fact_seq"],
        )
    if assessments:
        waited = [
            (event_id, covering[event_id])
            for row in assessments
            for event_id, _ in households[row["household_id"]].pending
        ]
        await _store_assessments(conn, assessments, waited)
    waiting = sum(1 for item in new if item.household_id not in households)
    return BatchOutcome(
        new_facts=len(new),
        duplicates=len(incoming) - len(new),
        waiting=waiting,
        assessments=assessments,
        cache_updates=updates,
    )


async def _store_assessments(
    conn: asyncpg.Connection, rows: list[dict[str, Any]], waited: Sequence[tuple[str, str]]
) -> None:
    """Insert assessments (COPY: their ids are new, or another transaction stored the same events first),
    mark the stored facts that waited for them, flag households opening a case."""
    records = []
    for row in rows:
        record = list(_assessment_values(row))
        record[_REASONS_AT] = orjson.dumps(record[_REASONS_AT]).decode()
        records.append(record)
    try:
        await conn.copy_records_to_table("assessments", records=records, columns=ASSESSMENT_COLUMNS)
    except asyncpg.UniqueViolationError as exc:
        raise ConcurrentWrite(f"an assessment of this batch was stored concurrently: {exc}") from exc
    if waited:
        await conn.execute(MARK_ASSESSED, [p[0] for p in waited], [p[1] for p in waited])
    flagged = [row["household_id"] for row in rows if row["opens_case"]]
    if flagged:
        await conn.execute(
            "update households set monitored = true where household_id = any($1::text[]) and not monitored",
            flagged,
        )


async def unpublished(
    conn: asyncpg.Connection, after: tuple[datetime, str] | None = None, limit: int = 5000
) -> list[dict[str, Any]]:
    """Assessments not yet published, oldest first, from just past `after` (assessed_at, assessment_id)."""
    rows = await conn.fetch(
        "select * from assessments where published_at is null"
        " and ($1::timestamptz is null or (assessed_at, assessment_id) > ($1, $2))"
        " order by assessed_at, assessment_id limit $3",
        *(after or (None, "")),
        limit,
    )
    return [{**dict(row), "reasons": orjson.loads(row["reasons"])} for row in rows]


async def mark_published(conn: asyncpg.Connection, assessment_ids: Sequence[str]) -> None:
    await conn.execute(
        "update assessments set published_at = now() where assessment_id = any($1::text[])",
        list(assessment_ids),
    )

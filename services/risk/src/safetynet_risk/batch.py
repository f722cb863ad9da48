"""Scoring one batch of household events (the consumer's unit of work, inside the caller's transaction):
which events are new, registry baselines, every household with new facts scored from its stored facts
(from the household cache when it has them) plus the new ones and its case state (read from the database
in the batch's transaction, never cached: another process may own its case events), the facts and
assessments written. Events for households the registry has not sent yet wait until it does."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from safetynet_core.policy import Policy
from safetynet_core.policy.risk import RiskPolicy
from safetynet_risk import metrics, store
from safetynet_risk.cache import CachedHousehold, HouseholdCache
from safetynet_risk.casestate import NO_CASE, CaseState
from safetynet_risk.engine import Scored, assess
from safetynet_risk.messages import Incoming
from safetynet_risk.state import REGISTRY_RECORD, PreparedFact, RegistryRecord, StoredFact, build_prepared_state
from safetynet_risk.store import fact_from_row, registry_from_row

YIELD_EVERY = 500  # households scored between yields to the event loop
ASSESSMENT_NAMESPACE = uuid.UUID("6b1f3c52-7d0e-4c57-9a55-2f0f6a1e9b11")


@dataclass
class BatchOutcome:
    new_facts: int
    duplicates: int
    waiting: int
    assessments: list[dict[str, Any]]
    # Households this batch scored, as they stand once its transaction commits (for the HouseholdCache).
    cache_updates: dict[str, CachedHousehold] = field(default_factory=dict)


_NAMESPACE_BYTES = ASSESSMENT_NAMESPACE.bytes


def assessment_id_of(household_id: str, event_ids: Sequence[str]) -> str:
    """An assessment's id: from its household and the (sorted) ids of the events it covers. Exactly
    `str(uuid.uuid5(ASSESSMENT_NAMESPACE, household_id + "|" + "|".join(event_ids)))`, without the UUID object."""
    name = _NAMESPACE_BYTES + (household_id + "|" + "|".join(event_ids)).encode()
    digest = bytearray(hashlib.sha1(name, usedforsecurity=False).digest())  # UUID5 is SHA-1 by definition
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


def _fact_of(item: Incoming) -> StoredFact:
    """The stored form of an incoming event (a registry record is stored as a fact too)."""
    if item.fact is not None:
        return item.fact
    assert item.registry is not None  # noqa: S101 (invariant: a fact or a registry record)
    return StoredFact(
        event_id=item.event_id,
        type=REGISTRY_RECORD,
        occurred_at=item.registry.recorded_at,
        payload=item.registry.as_payload(),
    )


async def _new_items(conn: asyncpg.Connection, incoming: Sequence[Incoming]) -> list[Incoming]:
    """The batch's events not stored yet (first occurrence of an id repeated inside the batch)."""
    seen = await store.existing_event_ids(conn, [item.event_id for item in incoming])
    new = []
    for item in incoming:
        if item.event_id not in seen:
            seen.add(item.event_id)
            new.append(item)
    return new


def _latest_registry(new: Sequence[Incoming]) -> dict[str, Incoming]:
    """Per household, the batch's latest registry record (the later one of equal moments)."""
    latest: dict[str, Incoming] = {}
    for item in new:
        if item.registry is not None:
            current = latest.get(item.household_id)
            if current is None or current.occurred_at <= item.occurred_at:
                latest[item.household_id] = item
    return latest


@dataclass
class Household:
    """What scoring a household needs: its registry baseline, its stored department events, the stored
    facts still waiting for an assessment (event id, moment) and the highest stored fact seq."""

    registry: RegistryRecord
    events: tuple[PreparedFact, ...]
    pending: list[tuple[str, datetime]]
    max_seq: int


async def _fetch_households(
    conn: asyncpg.Connection, household_ids: list[str], policy: RiskPolicy
) -> dict[str, Household]:
    """The households (with a registry record) among `household_ids`, with their stored facts."""
    registry_rows, fact_rows = await store.household_rows(conn, household_ids)
    registries = {row["household_id"]: row for row in registry_rows}
    facts_by_household: dict[str, list[Any]] = defaultdict(list)
    for row in fact_rows:
        facts_by_household[row["household_id"]].append(row)
    found = {}
    for household_id, row in registries.items():
        facts = facts_by_household[household_id]
        found[household_id] = Household(
            registry=registry_from_row(row),
            events=tuple(PreparedFact(fact_from_row(f), policy) for f in facts if f["type"] != REGISTRY_RECORD),
            pending=[(f["event_id"], f["occurred_at"]) for f in facts if f["pending"]],
            max_seq=max((f["seq"] for f in facts), default=0),
        )
    return found


def _from_cache(cached: CachedHousehold, latest: RegistryRecord | None, policy: RiskPolicy) -> Household:
    """A cached household as the batch's registry upsert leaves it."""
    registry = cached.registry
    if latest is not None and registry.recorded_at <= latest.recorded_at:
        registry = latest
    events = cached.events
    if events and events[0].policy is not policy:
        events = tuple(PreparedFact(e.fact, policy) for e in events)
    return Household(registry, events, [], cached.max_seq)


def score_household(
    policy: Policy,
    household: Household,
    now: datetime,
    new: Sequence[StoredFact],
    trigger_ids: Sequence[str],
    assessment_id: str,
    case: CaseState = NO_CASE,
) -> tuple[dict[str, Any], tuple[PreparedFact, ...]]:
    """Score one household from its stored facts and the batch's new ones, triggered by `trigger_ids` (its
    waiting facts and the new ones), knowing its `case`. Returns the assessment row (its `fact_seq` still to
    fill in) and every department event the household now has (prepared)."""
    pending_at = [at for _, at in household.pending] + [fact.occurred_at for fact in new]
    evidence_at = max(pending_at)
    as_of = min(now, evidence_at)
    events = household.events + tuple(PreparedFact(fact, policy.risk) for fact in new if fact.type != REGISTRY_RECORD)
    state = build_prepared_state(household.registry, events, policy.risk, as_of)
    scored = assess(state, policy, trigger_ids=trigger_ids, case=case, evidence_at=evidence_at)
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
    await store.store_registry(conn, latest)
    new_facts = [_fact_of(item) for item in new]
    new_by_household: dict[str, list[StoredFact]] = defaultdict(list)
    for item, fact in zip(new, new_facts, strict=True):
        new_by_household[item.household_id].append(fact)

    risk = policy.risk
    households: dict[str, Household] = {}
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
    cases = await store.case_states(conn, list(households)) if households else {}

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
    inserting = asyncio.ensure_future(store.insert_facts(conn, new, new_facts, covering))
    try:
        await asyncio.sleep(0)  # the insert is sent
        assessments = []
        events_of: dict[str, tuple[PreparedFact, ...]] = {}
        for count, (household_id, household) in enumerate(households.items(), 1):
            started = time.perf_counter()
            row, events_of[household_id] = score_household(
                policy,
                household,
                now,
                new_by_household[household_id],
                *triggers[household_id],
                cases.get(household_id, NO_CASE),
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
            events=events_of[household_id],
            max_seq=row["fact_seq"],
        )
    if assessments:
        waited = [
            (event_id, covering[event_id])
            for row in assessments
            for event_id, _ in households[row["household_id"]].pending
        ]
        await store.store_assessments(conn, assessments, waited)
    waiting = sum(1 for item in new if item.household_id not in households)
    return BatchOutcome(
        new_facts=len(new),
        duplicates=len(incoming) - len(new),
        waiting=waiting,
        assessments=assessments,
        cache_updates=updates,
    )

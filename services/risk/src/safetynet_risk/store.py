"""Risk's queries, on one asyncpg connection inside the caller's transaction (COPY-speed paths: the
documented alternative to the unit of work): facts, registry baselines, households with their stored
facts, assessments and their publishing marks, case states and their history. Scoring a batch is
`batch.py`, following case events `case_consumer.py`."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from safetynet_risk.casestate import CaseChange, CaseState
from safetynet_risk.messages import Incoming
from safetynet_risk.state import RegistryRecord, StoredFact

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


EXISTING_FACTS = "select event_id from facts where event_id = any($1::text[])"

# New facts go in already marked with the assessment that covers them (None while the household waits for
# its registry record), so a batch never rewrites the rows it has just inserted. They are copied in (the batch
# already left out the stored ones; one stored meanwhile by another transaction is a unique violation), with
# seqs drawn from the column's own sequence in the batch's order, as an insert would number them.
FACT_COLUMNS = ("event_id", "household_id", "type", "member_id", "occurred_at", "payload", "assessment_id", "seq")
NEXT_FACT_SEQS = "select nextval('facts_seq_seq') from generate_series(1, $1::int)"


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


class ConcurrentWrite(Exception):
    """Another transaction stored some of this batch's events after the batch looked; retry the batch."""


async def insert_facts(
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


async def store_registry(conn: asyncpg.Connection, latest: dict[str, Incoming]) -> None:
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


async def store_assessments(
    conn: asyncpg.Connection, rows: list[dict[str, Any]], waited: Sequence[tuple[str, str]]
) -> None:
    """Insert assessments (COPY: their ids are new, or another transaction stored the same events first),
    and mark the stored facts that waited for them."""
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


async def existing_event_ids(conn: asyncpg.Connection, event_ids: Sequence[str]) -> set[str]:
    """Which of these events are stored already."""
    return {row["event_id"] for row in await conn.fetch(EXISTING_FACTS, list(event_ids))}


async def household_rows(conn: asyncpg.Connection, household_ids: list[str]) -> tuple[list[Any], list[Any]]:
    """The registry rows of the households (with a registry record) among `household_ids`, and their
    stored facts (each with `pending`: not yet covered by an assessment)."""
    registries = await conn.fetch("select * from households where household_id = any($1::text[])", household_ids)
    if not registries:
        return [], []
    return list(registries), list(await conn.fetch(HOUSEHOLD_FACTS, [r["household_id"] for r in registries]))


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


# ---- case states (what risk knows of each household's case) ------------------------------------------------

CASE_STATE_COLUMNS = "household_id, case_open, case_id, changed_at, closed_at, close_reason, closed_case_id"
CASE_STATES = f"select {CASE_STATE_COLUMNS} from case_states where household_id = any($1::text[])"  # noqa: S608
ADD_CASE_STATES = "insert into case_states (household_id) select unnest($1::text[]) on conflict do nothing"
LOCK_CASE_STATES = f"{CASE_STATES} order by household_id for update"
WRITE_CASE_STATES = """
update case_states s set case_open = v.case_open, case_id = v.case_id, changed_at = v.changed_at,
    closed_at = v.closed_at, close_reason = v.close_reason, closed_case_id = v.closed_case_id, updated_at = now()
from unnest($1::text[], $2::bool[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::text[])
    as v(household_id, case_open, case_id, changed_at, closed_at, close_reason, closed_case_id)
where s.household_id = v.household_id
"""
RECORD_CASE_CHANGES = """
insert into case_history (event_key, household_id, case_id, closes, occurred_at, close_reason, reopened)
select * from unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::timestamptz[], $6::text[], $7::bool[])
on conflict (event_key) do nothing
"""


def case_state_from_row(row: Any) -> CaseState:
    return CaseState(
        open=row["case_open"],
        case_id=row["case_id"],
        changed_at=row["changed_at"],
        closed_at=row["closed_at"],
        close_reason=row["close_reason"],
        closed_case_id=row["closed_case_id"],
    )


async def case_states(conn: asyncpg.Connection, household_ids: Sequence[str]) -> dict[str, CaseState]:
    """The case states of those households risk has heard of a case for."""
    rows = await conn.fetch(CASE_STATES, list(household_ids))
    return {row["household_id"]: case_state_from_row(row) for row in rows}


async def lock_case_states(conn: asyncpg.Connection, household_ids: Sequence[str]) -> dict[str, CaseState]:
    """The households' case states, locked for this transaction (created empty first when new)."""
    await conn.execute(ADD_CASE_STATES, list(household_ids))
    rows = await conn.fetch(LOCK_CASE_STATES, list(household_ids))
    return {row["household_id"]: case_state_from_row(row) for row in rows}


def _columns(items: Sequence[Any], names: Sequence[str]) -> list[list[Any]]:
    """The items' attributes, one list per name (for `unnest`)."""
    return [[getattr(item, name) for item in items] for name in names]


async def write_case_states(conn: asyncpg.Connection, states: dict[str, CaseState]) -> None:
    names = ("open", "case_id", "changed_at", "closed_at", "close_reason", "closed_case_id")
    await conn.execute(WRITE_CASE_STATES, list(states), *_columns(list(states.values()), names))


async def record_case_changes(conn: asyncpg.Connection, changes: Sequence[CaseChange]) -> None:
    """Keep every opening and closure (idempotent by event key): the backtest replays them."""
    names = ("event_key", "household_id", "case_id", "closes", "occurred_at", "close_reason", "reopened")
    await conn.execute(RECORD_CASE_CHANGES, *_columns(changes, names))


# ---- the backtest's reads (households in keyset pages, each page's history) ---------------------------------

BACKTEST_HOUSEHOLD_COUNT = "select count(distinct household_id) from assessments where as_of >= $1"
BACKTEST_HOUSEHOLD_PAGE = """
select household_id from assessments where as_of >= $1 and household_id > $2
group by household_id order by household_id limit $3
"""
BACKTEST_FACTS = """
select household_id, event_id, type, member_id, occurred_at, payload, seq, assessment_id from facts
where household_id = any($1::text[]) and assessment_id is not null order by household_id, seq
"""
BACKTEST_ASSESSMENTS = """
select assessment_id, household_id, region_code, category, level, score, opens_case, event_ids, assessed_at,
       as_of, fact_seq
from assessments where household_id = any($1::text[]) order by household_id, fact_seq, assessed_at
"""
BACKTEST_CASE_HISTORY = """
select event_key, household_id, case_id, closes, occurred_at, close_reason, reopened from case_history
where household_id = any($1::text[]) order by household_id, occurred_at, event_key
"""


async def assessed_household_count(conn: asyncpg.Connection, since: datetime) -> int:
    return int(await conn.fetchval(BACKTEST_HOUSEHOLD_COUNT, since))


async def assessed_household_page(conn: asyncpg.Connection, since: datetime, after: str, limit: int) -> list[str]:
    """The next `limit` households (by id, after `after`) with an assessment as of `since` or later."""
    return [row["household_id"] for row in await conn.fetch(BACKTEST_HOUSEHOLD_PAGE, since, after, limit)]


async def household_histories(
    conn: asyncpg.Connection, household_ids: Sequence[str]
) -> tuple[list[Any], list[Any], list[CaseChange]]:
    """The households' assessed facts (by seq), stored assessments (in order) and case openings and
    closures (by moment), each ordered by household first."""
    ids = list(household_ids)
    facts = await conn.fetch(BACKTEST_FACTS, ids)
    assessments = await conn.fetch(BACKTEST_ASSESSMENTS, ids)
    history = [CaseChange(**dict(row)) for row in await conn.fetch(BACKTEST_CASE_HISTORY, ids)]
    return list(facts), list(assessments), history

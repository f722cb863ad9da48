"""Set-based writes: events and registry records land with their outbox rows in one statement, hence
one transaction (INSERT ... SELECT FROM unnest with data-modifying CTEs: one round trip per batch)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from safetynet_core.contracts import to_timestamp
from safetynet_core.settings import CoreSettings
from safetynet_intake.clients import ApiClient
from safetynet_intake.messages import department_event_message, masked_members, registry_record_message
from safetynet_intake.validation import HouseholdRecordIn, ValidEvent, body_hash

OUTBOX_CHANNEL = "safetynet_intake_outbox"


class _NoResetConnection(asyncpg.Connection):
    """Request handlers leave no session state behind (no LISTEN, no session advisory locks, no SET), so
    handing a connection back to the pool needs no reset round trip (asyncpg's RESET ALL/UNLISTEN *)."""

    def get_reset_query(self) -> str:
        return ""


async def create_request_pool(settings: CoreSettings, schema: str, size: int) -> asyncpg.Pool:
    """The pool of the hot request path, bound to the intake schema."""
    return await asyncpg.create_pool(
        settings.asyncpg_dsn,
        min_size=min(4, size),
        max_size=size,
        connection_class=_NoResetConnection,
        server_settings={"search_path": f"{schema},public", "application_name": "safetynet-intake-api"},
    )


_INSERT_EVENTS = """
with incoming as (
    select * from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[],
                         $9::text[], $10::text[], $11::bytea[])
        with ordinality as t(event_id, type, household_id, member_id, reference, occurred_at, body_hash,
                             payload, value, ord)
), inserted as (
    insert into events (client_id, department, event_id, type, household_id, member_id, reference,
                        occurred_at, received_at, body_hash, payload)
    select $1, $2, event_id, type, household_id, member_id, reference, occurred_at, $12, body_hash,
           payload::jsonb
    from incoming order by ord
    on conflict (client_id, event_id) do nothing
    returning event_id
), queued as (
    insert into outbox (topic, key, value, client_id, event_id, created_at)
    select $13, i.household_id, i.value, $1, i.event_id, $12
    from incoming i join inserted using (event_id) order by i.ord
)
select event_id from inserted
"""

_UPSERT_HOUSEHOLDS = """
with incoming as (
    select * from unnest($2::text[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::text[], $8::text[],
                         $9::text[], $10::text[], $11::bytea[])
        with ordinality as t(household_id, region_code, poverty_status, income, head_member_id, members,
                             phone, grid_id, record_hash, value, ord)
), changed as (
    insert into households as h (household_id, client_id, region_code, poverty_status,
                                 annual_net_income_cny, head_member_id, members, phone, grid_id,
                                 record_hash, updated_at)
    select household_id, $1, region_code, poverty_status, income, head_member_id, members::jsonb, phone,
           grid_id, record_hash, $12
    from incoming order by ord
    on conflict (household_id) do update set
        client_id = excluded.client_id, region_code = excluded.region_code,
        poverty_status = excluded.poverty_status, annual_net_income_cny = excluded.annual_net_income_cny,
        head_member_id = excluded.head_member_id, members = excluded.members, phone = excluded.phone,
        grid_id = excluded.grid_id, record_hash = excluded.record_hash, updated_at = excluded.updated_at
    where h.record_hash <> excluded.record_hash
    returning household_id
), queued as (
    insert into outbox (topic, key, value, created_at)
    select $13, i.household_id, i.value, $12
    from incoming i join changed using (household_id) order by i.ord
)
select household_id from changed
"""


@dataclass
class EventOutcome:
    """What became of each event id in a write: new, an exact repeat, or a different body under a used id."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


async def store_events(
    conn: asyncpg.Connection,
    client: ApiClient,
    events: list[ValidEvent],
    topic: str,
    received_at: datetime,
    notify: bool,
) -> EventOutcome:
    """Insert new events and their outbox rows in one transaction; classify the others by body hash.
    `events` must not repeat an event id (the caller dedupes a batch first)."""
    columns: list[list[Any]] = [[] for _ in range(9)]
    received_ts = to_timestamp(received_at)
    for event in events:
        e = event.envelope
        row = (
            e.event_id,
            e.type.value,
            e.household_id,
            e.member_id,
            e.reference,
            e.occurred_at,
            event.body_hash,
            orjson.dumps(event.payload).decode(),
            department_event_message(client, event, received_ts),
        )
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    # One statement, hence one transaction and one round trip: events and outbox rows commit together.
    rows = await conn.fetch(_INSERT_EVENTS, client.client_id, client.department, *columns, received_at, topic)
    outcome = EventOutcome(accepted=[r["event_id"] for r in rows])
    if len(rows) < len(events):
        await _classify_repeats(conn, client, events, set(outcome.accepted), outcome)
    if notify and rows:
        await conn.execute("select pg_notify($1, '')", OUTBOX_CHANNEL)
    return outcome


async def _classify_repeats(
    conn: asyncpg.Connection,
    client: ApiClient,
    events: list[ValidEvent],
    accepted: set[str],
    outcome: EventOutcome,
) -> None:
    repeats = {e.envelope.event_id: e.body_hash for e in events if e.envelope.event_id not in accepted}
    stored = await conn.fetch(
        "select event_id, body_hash from events where client_id = $1 and event_id = any($2::text[])",
        client.client_id,
        list(repeats),
    )
    for row in stored:
        target = outcome.duplicates if row["body_hash"] == repeats[row["event_id"]] else outcome.conflicts
        target.append(row["event_id"])


async def store_households(
    conn: asyncpg.Connection,
    client: ApiClient,
    records: list[HouseholdRecordIn],
    topic: str,
    received_at: datetime,
    notify: bool,
) -> set[str]:
    """Upsert registry records; changed ones get an outbox row. Returns the ids that changed.
    `records` must not repeat a household id (the caller keeps the last of each)."""
    columns: list[list[Any]] = [[] for _ in range(10)]
    for record in records:
        members = masked_members(record)
        stored = {**record.model_dump(mode="json", exclude={"members"}), "members": members}
        row = (
            record.household_id,
            record.region_code,
            record.poverty_status,
            record.annual_net_income_cny,
            record.head_member_id,
            orjson.dumps(members).decode(),
            record.phone,
            record.grid_id,
            body_hash(stored),
            registry_record_message(client, record, str(uuid.uuid4()), received_at),
        )
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    rows = await conn.fetch(_UPSERT_HOUSEHOLDS, client.client_id, *columns, received_at, topic)
    if notify and rows:
        await conn.execute("select pg_notify($1, '')", OUTBOX_CHANNEL)
    return {r["household_id"] for r in rows}


async def find_event(conn: asyncpg.Connection, client: ApiClient, event_id: str) -> asyncpg.Record | None:
    """The event with this id posted from the caller's department (the caller's own first)."""
    return await conn.fetchrow(
        "select client_id, department, event_id, type, household_id, member_id, reference, occurred_at,"
        " received_at, payload::text as payload, status, published_at, assessment_id, assessed_at, case_id"
        " from events where department = $1 and event_id = $2 order by client_id = $3 desc limit 1",
        client.department,
        event_id,
        client.client_id,
    )

"""Set-based writes: events and registry records land with their outbox rows in one transaction.

Single events (group commit) and registry records: one statement (INSERT ... SELECT FROM json_to_recordset
or unnest with data-modifying CTEs, one round trip). Batches: COPY of the events rows and their outbox rows, the way
Postgres ingests rows fastest (PipelinedWrites); a batch that repeats an event already stored (a retry)
fails its COPY on the primary key, is rolled back to a savepoint and goes through the statement instead,
which classifies every row (idempotency by (client, event_id) holds either way)."""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg
import orjson
from google.protobuf.timestamp_pb2 import Timestamp

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


# The rows travel as one JSON array (json_to_recordset): encoding it is one orjson call, where a column of
# arrays per field cost the request process several times more per row (asyncpg checks every array element).
_INSERT_EVENTS = """
with incoming as (
    select t.*, nextval('outbox_id_seq') as outbox_id
    from json_to_recordset($1::json)
        as t(client_id text, department text, event_id text, type text, household_id text, member_id text,
             reference text, occurred_at timestamptz, received_at timestamptz, body_hash text, payload jsonb,
             value text)
), inserted as (
    insert into events (client_id, department, event_id, type, household_id, member_id, reference,
                        occurred_at, received_at, body_hash, payload, outbox_id)
    select client_id, department, event_id, type, household_id, member_id, reference, occurred_at,
           received_at, body_hash, payload, outbox_id
    from incoming
    on conflict (client_id, event_id) do nothing
    returning client_id, event_id, outbox_id
), queued as (
    insert into outbox (id, topic, key, value, client_id, event_id, created_at)
    select i.outbox_id, $2, i.household_id, decode(i.value, 'base64'), i.client_id, i.event_id, i.received_at
    from incoming i join inserted using (outbox_id)
)
select client_id, event_id from inserted
"""

# Columns of the COPY path, in the order `copy_rows` builds them.
EVENT_COPY_COLUMNS = (
    "client_id", "event_id", "department", "type", "household_id", "member_id", "reference", "occurred_at",
    "received_at", "body_hash", "payload", "outbox_id",
)  # fmt: skip
OUTBOX_COPY_COLUMNS = ("id", "topic", "key", "value", "client_id", "event_id", "created_at")
# Below this many rows a request's COPY (ids, savepoint, two COPYs, release) costs more round trips than it saves.
COPY_MIN_ROWS = 64
COPY_FALLBACK_CHUNK = 1000  # rows per statement when a COPY is rolled back
_RESERVE_OUTBOX_IDS = "select nextval('outbox_id_seq') from generate_series(1, $1)"

# An event is `published` once its outbox row is (the relay marks only the outbox); the status consumer
# moves it on to `assessed`.
EVENTS_WITH_OUTBOX = "events e left join outbox o on o.id = e.outbox_id"
EVENT_STATUS = "case when e.status = 'accepted' and o.published_at is not null then 'published' else e.status end"
EVENT_PUBLISHED_AT = "coalesce(o.published_at, e.published_at)"

_STORED_HASHES = """
select client_id, event_id, body_hash from events
where (client_id, event_id) in (select * from unnest($1::text[], $2::text[]))
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


class Outcome(StrEnum):
    """What became of one posted event: new, an exact repeat, or a different body under a used id."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class EventRow:
    """An event ready to write: the client that posted it, when, and its outbox value."""

    client: ApiClient
    event: ValidEvent
    received_at: datetime
    message: bytes

    @classmethod
    def build(cls, client: ApiClient, event: ValidEvent, received_at: datetime, received_ts: Timestamp) -> EventRow:
        return cls(client, event, received_at, department_event_message(client, event, received_ts))


async def write_events(conn: asyncpg.Connection, rows: Sequence[EventRow], topic: str, notify: bool) -> list[Outcome]:
    """Insert new events with their outbox rows in one statement (hence one transaction and one round trip)
    and classify the rest by body hash; one outcome per row, in order. Rows may come from several clients
    and may repeat a (client, event id): the first is written, later ones are classified against it."""
    first_of: dict[tuple[str, str], int] = {}
    repeats: list[int] = []
    firsts: list[EventRow] = []
    for index, row in enumerate(rows):
        key = (row.client.client_id, row.event.event_id)
        if key in first_of:
            repeats.append(index)
        else:
            first_of[key] = index
            firsts.append(row)
    inserted = await conn.fetch(_INSERT_EVENTS, _json_rows(firsts), topic)
    outcomes = [Outcome.CONFLICT] * len(rows)
    for record in inserted:
        outcomes[first_of.pop((record["client_id"], record["event_id"]))] = Outcome.ACCEPTED
    repeats.extend(first_of.values())  # written before by an earlier request
    if repeats:
        await _classify_repeats(conn, rows, repeats, outcomes)
    if notify and inserted:
        await conn.execute("select pg_notify($1, '')", OUTBOX_CHANNEL)
    return outcomes


def _json_rows(rows: Sequence[EventRow]) -> str:
    """The rows for `_INSERT_EVENTS`: a JSON array of objects (the outbox value in base64)."""
    return orjson.dumps(
        [
            {"client_id": row.client.client_id, "department": row.client.department, "event_id": row.event.event_id,
             "type": row.event.type.value, "household_id": row.event.household_id, "member_id": row.event.member_id,
             "reference": row.event.reference, "occurred_at": row.event.occurred_at, "received_at": row.received_at,
             "body_hash": row.event.body_hash, "payload": row.event.payload,
             "value": binascii.b2a_base64(row.message, newline=False).decode()}
            for row in rows
        ]
    ).decode()


def copy_rows(
    rows: Sequence[EventRow], outbox_ids: Sequence[int], topic: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The events rows and outbox rows of `rows` for COPY (EVENT_COPY_COLUMNS, OUTBOX_COPY_COLUMNS)."""
    events, outbox = [], []
    for row, outbox_id in zip(rows, outbox_ids, strict=True):
        client, event = row.client, row.event
        events.append(
            (client.client_id, event.event_id, client.department, event.type.value, event.household_id,
             event.member_id, event.reference, event.occurred_at, row.received_at, event.body_hash,
             orjson.dumps(event.payload).decode(), outbox_id)
        )  # fmt: skip
        outbox.append((outbox_id, topic, event.household_id, row.message, client.client_id, event.event_id,
                       row.received_at))  # fmt: skip
    return events, outbox


async def _classify_repeats(
    conn: asyncpg.Connection, rows: Sequence[EventRow], repeats: list[int], outcomes: list[Outcome]
) -> None:
    """Rows not inserted are duplicates when the stored body hash matches theirs, else conflicts."""
    stored = await conn.fetch(
        _STORED_HASHES,
        [rows[i].client.client_id for i in repeats],
        [rows[i].event.event_id for i in repeats],
    )
    hashes = {(r["client_id"], r["event_id"]): r["body_hash"] for r in stored}
    for index in repeats:
        row = rows[index]
        if hashes.get((row.client.client_id, row.event.event_id)) == row.event.body_hash:
            outcomes[index] = Outcome.DUPLICATE


class PipelinedWrites:
    """One request's events written inside the caller's transaction while the caller validates the rest.

    With `expected` (an upper bound on the rows to come) of at least COPY_MIN_ROWS, outbox ids for that many
    are reserved in one round trip, each submitted chunk's events rows stream into one open COPY, and the
    outbox rows follow in a second COPY when the caller waits; all under a savepoint. If the COPY meets an
    event already stored (a retried batch), it is rolled back and every row goes through the statement
    (`write_events`) instead, which classifies each. Without `expected` (or past it) chunks go through the
    statement, each running on the server while the caller validates the next one.
    Use as an async context manager so nothing is left in flight when the transaction ends."""

    def __init__(self, conn: asyncpg.Connection, topic: str, notify: bool, expected: int = 0) -> None:
        self._conn = conn
        self._topic = topic
        self._notify = notify
        self._expected = expected
        self._in_flight: asyncio.Task[list[Outcome]] | None = None
        self.outcomes: list[Outcome] = []
        self._copy: _StreamedCopy | None = None

    async def __aenter__(self) -> PipelinedWrites:
        if self._expected >= COPY_MIN_ROWS:
            self._copy = await _StreamedCopy.open(self._conn, self._topic, self._expected)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if exc_info[0] is None:
            await self.wait()
            return
        with contextlib.suppress(Exception):  # the caller's error is the one to report
            if self._copy is not None:
                await self._copy.abandon()
            if self._in_flight is not None:
                await self._in_flight

    async def submit(self, rows: Sequence[EventRow]) -> None:
        if self._copy is not None and self._copy.fits(rows):
            await self._copy.feed(rows)
            return
        await self._finish_copy()
        await self._wait_statement()
        self._in_flight = asyncio.create_task(write_events(self._conn, rows, self._topic, self._notify))
        await asyncio.sleep(0)  # the task sends its statement before the caller goes back to work

    async def wait(self) -> list[Outcome]:
        """All outcomes so far, in submission order, once everything submitted is written."""
        await self._finish_copy()
        await self._wait_statement()
        return self.outcomes

    async def _wait_statement(self) -> None:
        if self._in_flight is not None:
            task, self._in_flight = self._in_flight, None
            self.outcomes.extend(await task)

    async def _finish_copy(self) -> None:
        if self._copy is None:
            return
        copy, self._copy = self._copy, None
        if await copy.close():
            self.outcomes.extend([Outcome.ACCEPTED] * len(copy.rows))
            if self._notify and copy.rows:
                await self._conn.execute("select pg_notify($1, '')", OUTBOX_CHANNEL)
            return
        for start in range(0, len(copy.rows), COPY_FALLBACK_CHUNK):
            chunk = copy.rows[start : start + COPY_FALLBACK_CHUNK]
            self.outcomes.extend(await write_events(self._conn, chunk, self._topic, self._notify))


class _StreamedCopy:
    """A COPY of events rows kept open while rows arrive, then the COPY of their outbox rows, under a savepoint;
    `close` says whether it all landed (False: rolled back because some event was stored before)."""

    def __init__(self, conn: asyncpg.Connection, topic: str, outbox_ids: list[int]) -> None:
        self._conn = conn
        self._topic = topic
        self._outbox_ids = outbox_ids
        self._outbox: list[tuple[Any, ...]] = []
        self._keys: set[tuple[str, str]] = set()
        self._queue: asyncio.Queue[list[tuple[Any, ...]] | None] = asyncio.Queue()
        self._savepoint = conn.transaction()
        self._copying: asyncio.Task[str] | None = None
        self.rows: list[EventRow] = []

    @classmethod
    async def open(cls, conn: asyncpg.Connection, topic: str, expected: int) -> _StreamedCopy:
        ids = [record[0] for record in await conn.fetch(_RESERVE_OUTBOX_IDS, expected)]
        copy = cls(conn, topic, ids)
        await copy._savepoint.start()
        copy._copying = asyncio.create_task(
            conn.copy_records_to_table("events", records=copy._records(), columns=EVENT_COPY_COLUMNS)
        )
        return copy

    async def _records(self) -> AsyncIterator[tuple[Any, ...]]:
        while (batch := await self._queue.get()) is not None:
            for record in batch:
                yield record

    def fits(self, rows: Sequence[EventRow]) -> bool:
        """Room left among the reserved ids, and no row repeating one already in this COPY."""
        keys = {(row.client.client_id, row.event.event_id) for row in rows}
        return len(self.rows) + len(rows) <= len(self._outbox_ids) and len(keys) == len(rows) and not (
            keys & self._keys
        )

    async def feed(self, rows: Sequence[EventRow]) -> None:
        start = len(self.rows)
        events, outbox = copy_rows(rows, self._outbox_ids[start : start + len(rows)], self._topic)
        self.rows.extend(rows)
        self._keys.update((row.client.client_id, row.event.event_id) for row in rows)
        self._outbox.extend(outbox)
        self._queue.put_nowait(events)
        await asyncio.sleep(0)  # the COPY encodes and sends them before the caller goes back to work

    async def close(self) -> bool:
        if self._copying is None:
            raise RuntimeError("a streamed COPY closed before it was opened")
        self._queue.put_nowait(None)
        try:
            await self._copying
            await self._conn.copy_records_to_table("outbox", records=self._outbox, columns=OUTBOX_COPY_COLUMNS)
        except asyncpg.UniqueViolationError:
            await self._savepoint.rollback()
            return False
        await self._savepoint.commit()
        return True

    async def abandon(self) -> None:
        """End the COPY on the way out of a failed request (its transaction is rolled back anyway)."""
        self._queue.put_nowait(None)
        if self._copying is not None:
            await self._copying


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


async def household_regions(conn: asyncpg.Pool | asyncpg.Connection, household_ids: Sequence[str]) -> dict[str, str]:
    """The stored region code of each registered household among `household_ids`."""
    rows = await conn.fetch(
        "select household_id, region_code from households where household_id = any($1::text[])", list(household_ids)
    )
    return {r["household_id"]: r["region_code"] for r in rows}


async def find_event(conn: asyncpg.Connection, client: ApiClient, event_id: str) -> asyncpg.Record | None:
    """The event with this id posted from the caller's department (the caller's own first)."""
    return await conn.fetchrow(
        "select e.client_id, e.department, e.event_id, e.type, e.household_id, e.member_id, e.reference,"  # noqa: S608 (constant fragments)
        " e.occurred_at, e.received_at, e.payload::text as payload,"
        f" {EVENT_STATUS} as status, {EVENT_PUBLISHED_AT} as published_at,"
        " e.assessment_id, e.assessed_at, e.case_id"
        f" from {EVENTS_WITH_OUTBOX}"
        " where e.department = $1 and e.event_id = $2 order by e.client_id = $3 desc limit 1",
        client.department,
        event_id,
        client.client_id,
    )

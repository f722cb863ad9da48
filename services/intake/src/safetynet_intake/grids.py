"""Grids (网格): a household's grid lives on its registry row; moving it (CSV import or the API) is logged
in `grid_moves` and re-publishes the household's registry record through the outbox, so consumers of
household events see the new grid. A registry PUT without `grid_id` keeps the assigned grid."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from safetynet.v1 import household_events_pb2 as pb
from safetynet_core.contracts import SCHEMA_VERSION, HouseholdEvent, to_timestamp
from safetynet_intake.messages import LABOUR_CAPACITY, POVERTY_STATUS
from safetynet_intake.store import OUTBOX_CHANNEL
from safetynet_intake.validation import HouseholdRecordIn, body_hash

GRID_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"


async def keep_assigned_grids(conn: asyncpg.Connection, records: list[HouseholdRecordIn]) -> list[HouseholdRecordIn]:
    """Records without `grid_id` take the household's current grid (grids are managed by import/move)."""
    missing = [r.household_id for r in records if r.grid_id is None]
    if not missing:
        return records
    rows = await conn.fetch(
        "select household_id, grid_id from households where household_id = any($1::text[]) and grid_id is not null",
        missing,
    )
    grid_of = {r["household_id"]: r["grid_id"] for r in rows}
    return [
        r.model_copy(update={"grid_id": grid_of[r.household_id]})
        if r.grid_id is None and r.household_id in grid_of
        else r
        for r in records
    ]


def stored_hash(row: Mapping[str, Any], grid_id: str) -> str:
    """The record hash `store_households` would compute for this row with `grid_id` (same document)."""
    document = {
        "household_id": row["household_id"],
        "region_code": row["region_code"],
        "poverty_status": row["poverty_status"],
        "annual_net_income_cny": row["annual_net_income_cny"],
        "head_member_id": row["head_member_id"],
        "phone": row["phone"],
        "grid_id": grid_id,
        "members": orjson.loads(row["members"]),
    }
    return body_hash(document)


def registry_message_from_row(row: Mapping[str, Any], department: str, now: datetime) -> bytes:
    """The registry record of a stored household (ID numbers were masked on the way in)."""
    members = orjson.loads(row["members"])
    ts = to_timestamp(now)
    return HouseholdEvent(
        schema_version=SCHEMA_VERSION,
        event_id=str(uuid.uuid4()),
        household_id=row["household_id"],
        department=department,
        client_id=row["client_id"],
        occurred_at=ts,
        received_at=ts,
        registry_record=pb.HouseholdRecord(
            household_id=row["household_id"],
            region_code=row["region_code"],
            poverty_status=POVERTY_STATUS[row["poverty_status"]],
            annual_net_income_cny=row["annual_net_income_cny"],
            head_member_id=row["head_member_id"],
            grid_id=row["grid_id"] or "",
            members=[
                pb.Member(
                    member_id=m["member_id"],
                    name=m["name"],
                    id_number_masked=m["id_number_masked"],
                    birth_date=m["birth_date"],
                    labour_capacity=LABOUR_CAPACITY[m["labour_capacity"]],
                    in_school=m.get("in_school", False),
                )
                for m in members
            ],
        ),
    ).SerializeToString()


@dataclass(frozen=True)
class Move:
    household_id: str
    from_grid_id: str | None
    to_grid_id: str
    region_code: str


_HOUSEHOLD = """
select h.household_id, h.client_id, h.region_code, h.poverty_status, h.annual_net_income_cny, h.head_member_id,
       h.members::text as members, h.phone, h.grid_id, coalesce(c.department, 'rural_revitalization') as department
from households h left join api_clients c using (client_id)
where h.household_id = $1 for update of h
"""


async def current_household(conn: asyncpg.Connection, household_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_HOUSEHOLD, household_id)


async def move_household(
    conn: asyncpg.Connection,
    household_id: str,
    grid_id: str,
    *,
    moved_by: str,
    source: str,
    topic: str,
    now: datetime,
    row: asyncpg.Record | None = None,
) -> Move | None:
    """Put a household in `grid_id`, log the move and queue its registry record; None when it is not
    registered. Call inside a transaction. A move to the current grid changes nothing."""
    row = row or await current_household(conn, household_id)
    if row is None:
        return None
    move = Move(household_id, row["grid_id"], grid_id, row["region_code"])
    if row["grid_id"] == grid_id:
        return move
    await conn.execute(
        "update households set grid_id = $2, record_hash = $3, updated_at = $4 where household_id = $1",
        household_id,
        grid_id,
        stored_hash(row, grid_id),
        now,
    )
    await conn.execute(
        "insert into grids (grid_id, region_code, updated_at) values ($1, $2, $3) on conflict (grid_id) do nothing",
        grid_id,
        row["region_code"],
        now,
    )
    await conn.execute(
        "insert into grid_moves (household_id, from_grid_id, to_grid_id, moved_by, source, moved_at)"
        " values ($1, $2, $3, $4, $5, $6)",
        household_id,
        row["grid_id"],
        grid_id,
        moved_by,
        source,
        now,
    )
    updated = {**dict(row), "grid_id": grid_id}
    await conn.execute(
        "insert into outbox (topic, key, value, created_at) values ($1, $2, $3, $4)",
        topic,
        household_id,
        registry_message_from_row(updated, row["department"], now),
        now,
    )
    return move


@dataclass(frozen=True)
class GridRow:
    line: int
    household_id: str
    grid_id: str
    grid_worker_username: str | None


def parse_grid_csv(text: str) -> tuple[list[GridRow], list[dict[str, Any]]]:
    """`household_id,grid_id[,grid_worker_username]` lines (a header line is optional); bad lines are
    returned as errors by line number."""
    pattern = re.compile(GRID_ID_PATTERN)
    rows: list[GridRow] = []
    errors: list[dict[str, Any]] = []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in fields]
        if not any(cells):
            continue
        if number == 1 and cells[:2] == ["household_id", "grid_id"]:
            continue
        if len(cells) not in (2, 3) or not cells[0] or not pattern.match(cells[1]):
            errors.append({"line": number, "error": "expected household_id,grid_id[,grid_worker_username]"})
            continue
        worker = cells[2] if len(cells) == 3 and cells[2] else None
        rows.append(GridRow(number, cells[0], cells[1], worker))
    return rows, errors


async def import_grids(
    conn: asyncpg.Connection, rows: Sequence[GridRow], *, moved_by: str, topic: str, now: datetime
) -> dict[str, Any]:
    """Apply a grid file in one transaction: grid workers recorded per grid, households moved and
    re-published. Unknown households are reported, not fatal."""
    moved = unchanged = 0
    unknown: list[dict[str, Any]] = []
    async with conn.transaction():
        for r in rows:
            move = await move_household(
                conn, r.household_id, r.grid_id, moved_by=moved_by, source="import", topic=topic, now=now
            )
            if move is None:
                unknown.append({"line": r.line, "household_id": r.household_id})
                continue
            if move.from_grid_id == move.to_grid_id:
                unchanged += 1
            else:
                moved += 1
            if r.grid_worker_username:
                await conn.execute(
                    "insert into grids (grid_id, region_code, grid_worker_username, updated_at)"
                    " values ($1, $2, $3, $4) on conflict (grid_id) do update"
                    " set grid_worker_username = excluded.grid_worker_username, updated_at = excluded.updated_at",
                    r.grid_id,
                    move.region_code,
                    r.grid_worker_username,
                    now,
                )
        if moved:
            await conn.execute("select pg_notify($1, '')", OUTBOX_CHANNEL)
    return {"moved": moved, "unchanged": unchanged, "unknown_households": unknown}

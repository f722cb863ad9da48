"""Batch chunks are written by COPY; a chunk repeating events already stored (a retried batch) falls back to
the statement, which classifies each row. Either way every new event has one events row linked to one outbox
row, and nothing of a failed COPY remains."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from safetynet_intake import store
from safetynet_intake.samples import medical_event, ndjson

pytestmark = pytest.mark.integration


async def _linked(db: asyncpg.Connection) -> tuple[int, int]:
    """(events, events whose outbox row names them and carries their household as key)."""
    events = await db.fetchval("select count(*) from events")
    linked = await db.fetchval(
        "select count(*) from events e join outbox o"
        " on o.id = e.outbox_id and o.event_id = e.event_id and o.client_id = e.client_id and o.key = e.household_id"
    )
    return events, linked


async def test_new_chunks_are_copied_and_a_retried_batch_is_classified_line_by_line(
    start_intake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    statement_rows: list[int] = []
    write_events = store.write_events

    async def counted(conn: asyncpg.Connection, rows: Sequence[store.EventRow], topic: str, notify: bool) -> Any:
        statement_rows.append(len(rows))
        return await write_events(conn, rows, topic, notify)

    monkeypatch.setattr(store, "write_events", counted)
    async with start_intake(batch_chunk_events=100) as intake:
        first = [medical_event(household_id=f"H{n:04d}") for n in range(250)]
        response = await intake.post("/v1/events:batch", "medical_insurance", content=ndjson(*first))
        assert response.json() == {"accepted": 250, "duplicates": 0, "rejected": []}
        assert statement_rows == []  # every chunk streamed into the COPY
        assert await _linked(intake.db) == (250, 250)

        changed = {**first[120], "reference": "HIS-OTHER"}
        fresh = [medical_event(household_id=f"H{n:04d}") for n in range(250, 349)]
        retried = [*first[:120], changed, *fresh]
        response = await intake.post("/v1/events:batch", "medical_insurance", content=ndjson(*retried))
        body = response.json()
        assert (body["accepted"], body["duplicates"]) == (99, 120)
        assert [r["line"] for r in body["rejected"]] == [121]
        assert statement_rows == [220]  # the COPY met stored events: rolled back, every row through the statement
        assert await _linked(intake.db) == (349, 349)
        assert await intake.db.fetchval("select count(*) from outbox") == 349

        small = [medical_event(household_id=f"H{n:04d}") for n in range(349, 359)]
        response = await intake.post("/v1/events:batch", "medical_insurance", content=ndjson(*small))
        assert response.json()["accepted"] == 10
        assert statement_rows == [220, 10]  # too few lines to be worth a COPY
        assert await _linked(intake.db) == (359, 359)

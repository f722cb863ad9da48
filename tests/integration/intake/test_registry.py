"""The household registry: PUT and NDJSON batches, masked ID numbers on Kafka, per-line errors."""

from __future__ import annotations

from typing import Any

import pytest

from safetynet_intake.samples import household_record, ndjson

pytestmark = pytest.mark.integration


async def test_put_stores_the_record_and_publishes_it_with_masked_id_numbers(start_intake: Any) -> None:
    async with start_intake() as intake:
        record = household_record("H610327101201007")
        response = await intake.put("/v1/households/H610327101201007", "rural_revitalization", json=record)
        assert response.status_code == 200, response.text
        assert response.json() == {"household_id": "H610327101201007", "status": "accepted"}
        again = await intake.put("/v1/households/H610327101201007", "rural_revitalization", json=record)
        assert again.json()["status"] == "unchanged"

        [(key, message)] = await intake.published_messages(1)
        assert key == "H610327101201007"
        registry = message.registry_record
        assert registry.region_code == "610327101201"
        assert [m.id_number_masked for m in registry.members] == ["**************1234", "**************123X"]
        raw_outbox = await intake.db.fetchval("select value from outbox")
        stored_members = await intake.db.fetchval("select members::text from households")
        for full in ("610327198001011234", "61032720100202123X"):
            assert full.encode() not in raw_outbox
            assert full not in stored_members


async def test_malformed_registry_lines_are_rejected_by_number_while_good_lines_land(
    start_intake: Any,
) -> None:
    async with start_intake() as intake:
        lines = [
            household_record("H001"),
            b'{"household_id": "H002", "region_code": ',
            household_record("H003"),
            household_record("H004", region_code="6103271012"),
            household_record("H005", head_member_id="M9"),
            household_record("H006", members=[{**household_record()["members"][0], "labour_capacity": "some"}]),
            household_record("H007"),
        ]
        response = await intake.post(
            "/v1/households:batch",
            "rural_revitalization",
            content=ndjson(*lines),
            headers={"content-type": "application/x-ndjson"},
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["accepted"] == 3
        assert [r["line"] for r in result["rejected"]] == [2, 4, 5, 6]
        by_line = {r["line"]: r["errors"] for r in result["rejected"]}
        assert by_line[4][0]["loc"] == ["region_code"]
        assert by_line[6][0]["loc"] == ["members", 0, "labour_capacity"]
        stored = await intake.db.fetch("select household_id from households order by household_id")
        assert [r["household_id"] for r in stored] == ["H001", "H003", "H007"]
        messages = await intake.published_messages(3)
        assert sorted(key for key, _ in messages) == ["H001", "H003", "H007"]

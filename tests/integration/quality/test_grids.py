"""Grids: grid_id on registry records reaches Kafka, `safetynet grids import` and the move API update the
household and re-publish its record, and a later registry PUT without grid_id keeps the grid."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from safetynet_core.auth import Role
from safetynet_intake.samples import household_record

pytestmark = pytest.mark.integration
CLI = Path(sys.executable).with_name("safetynet")
VILLAGE = "610327101201"


async def grids_import(schema: str, topic: str, file: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        "grids",
        "import",
        str(file),
        "--by",
        "tester",
        env={**os.environ, "SAFETYNET_DB_SCHEMA": schema, "SAFETYNET_TOPIC_HOUSEHOLD_EVENTS": topic},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_grid_import_and_move_republish_the_registry_record(start_intake: Any, tmp_path: Path) -> None:
    async with start_intake() as intake:
        assert (await intake.put_record(household_record("HG1", grid_id="G-A"))).status_code == 200
        assert (await intake.put_record(household_record("HG2"))).status_code == 200
        first = await intake.registry_messages(2)
        assert {key: m.registry_record.grid_id for key, m in first} == {"HG1": "G-A", "HG2": ""}

        csv_file = tmp_path / "grids.csv"
        csv_file.write_text("household_id,grid_id,grid_worker_username\nHG1,G-A,wang\nHG2,G-B,li\nHG9,G-B,li\n")
        code, out = await grids_import(intake.settings.db_schema, intake.settings.topic_household_events, csv_file)
        assert code == 0, out
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["moved"] == 1 and summary["unchanged"] == 1
        assert summary["unknown_households"] == [{"line": 4, "household_id": "HG9"}]
        workers = await intake.db.fetch("select grid_id, grid_worker_username from grids order by grid_id")
        assert [tuple(r) for r in workers] == [("G-A", "wang"), ("G-B", "li")]
        after_import = await intake.registry_messages(3)
        republished = [m for key, m in after_import if key == "HG2"][-1]  # one household's messages stay in order
        assert republished.registry_record.grid_id == "G-B"
        assert [m.id_number_masked for m in republished.registry_record.members] == [
            "**************1234",
            "**************123X",
        ]

        # a village cadre moves HG2 back to G-A; a grid worker and another village may not
        move = {"grid_id": "G-A"}
        url = f"{intake.url}/v1/households/HG2/grid"
        denied = await intake.http.put(url, json=move, headers=intake.token(Role.GRID_WORKER, VILLAGE))
        assert denied.status_code == 403
        elsewhere = await intake.http.put(url, json=move, headers=intake.token(Role.VILLAGE_CADRE, "610327101202"))
        assert elsewhere.status_code == 404
        bad = await intake.http.put(url, json={"grid_id": ""}, headers=intake.token(Role.VILLAGE_CADRE, VILLAGE))
        assert bad.status_code == 422
        moved = await intake.http.put(url, json=move, headers=intake.token(Role.VILLAGE_CADRE, VILLAGE))
        assert moved.status_code == 200, moved.text
        assert moved.json() == {"household_id": "HG2", "grid_id": "G-A", "previous_grid_id": "G-B", "status": "moved"}
        log = await intake.db.fetch(
            "select from_grid_id, to_grid_id, moved_by, source from grid_moves order by move_id"
        )
        assert [tuple(r) for r in log] == [
            (None, "G-B", "cli:tester", "import"),
            ("G-B", "G-A", f"village_cadre-{VILLAGE}", "api"),
        ]
        after_move = await intake.registry_messages(4)
        assert [m.registry_record.grid_id for key, m in after_move if key == "HG2"] == ["", "G-B", "G-A"]

        # the registry system sends HG2 again without grid_id: unchanged, the grid stays
        again = await intake.put_record(household_record("HG2"))
        assert again.json()["status"] == "unchanged"
        assert await intake.db.fetchval("select grid_id from households where household_id = 'HG2'") == "G-A"

"""Grid routing on the real stack: village-level tasks of a household go to its grid worker; the
neighbouring grid's worker never sees them; the grid travels from the registry record on Kafka."""

from __future__ import annotations

import pytest

from safetynet_core.testing import eventually, unique
from safetynet_core.vocabulary import GUARANTEES

from .conftest import StartWorkflow, assessment, registry_record

pytestmark = pytest.mark.integration

VILLAGE = "610327101201"
HOME_VISIT = {
    "visitors": ["Li Wei", "Wang Fang"],
    "consent": True,
    "verified_annual_income_cny": 6000,
    "members_present": 3,
    "guarantees": dict.fromkeys(GUARANTEES, True),
}


async def test_grid_worker_sees_their_grids_screen_and_visit_tasks_only(start_workflow: StartWorkflow) -> None:
    async with start_workflow() as wf:
        mine, theirs = unique("H"), unique("H")
        grid_a, grid_b = unique("G"), unique("G")
        await wf.user("worker-a", "grid_worker", VILLAGE, grid_a)
        await wf.user("worker-b", "grid_worker", VILLAGE, grid_b)
        await wf.user("cadre", "village_cadre", VILLAGE)
        await wf.registry(
            (mine, registry_record(mine, VILLAGE, grid_a)), (theirs, registry_record(theirs, VILLAGE, grid_b))
        )
        await wf.assess(mine, assessment(mine, VILLAGE))
        await wf.assess(theirs, assessment(theirs, VILLAGE))

        async def screens(username: str) -> list[dict[str, str]]:
            return await wf.tasks(username, kind="screen")

        async def both_routed() -> bool:
            return bool(await screens("worker-a")) and bool(await screens("worker-b"))

        await eventually(both_routed, timeout=45, message="both screens routed to grids")
        [screen_a] = await screens("worker-a")
        [screen_b] = await screens("worker-b")
        assert (screen_a["household_id"], screen_a["role"], screen_a["grid_id"]) == (mine, "grid_worker", grid_a)
        assert (screen_b["household_id"], screen_b["grid_id"]) == (theirs, grid_b)
        assert await screens("cadre") == []  # not escalated: the grid worker has it

        # The neighbour can neither see nor act on another grid's task.
        refused = await wf.complete("worker-b", screen_a["task_id"], {"decision": "proceed"})
        assert refused.status_code == 404, refused.text
        done = await wf.complete("worker-a", screen_a["task_id"], {"decision": "proceed"})
        assert done.status_code == 200, done.text

        visits = await eventually(
            lambda: wf.tasks("worker-a", kind="home_visit"), timeout=30, message="home visit for the grid worker"
        )
        assert [(v["household_id"], v["grid_id"]) for v in visits] == [(mine, grid_a)]
        assert await wf.tasks("worker-b", kind="home_visit") == []
        # Cutting the grid worker's inbox by another grid leaves nothing.
        assert await wf.tasks("worker-a", grid=grid_b) == []
        visit = await wf.complete("worker-a", visits[0]["task_id"], HOME_VISIT)
        assert visit.status_code == 200, visit.text

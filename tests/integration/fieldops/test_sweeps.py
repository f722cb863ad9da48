"""A concentrated sweep (集中排查) over a synthetic township on the real stack (intake, risk and workflow
in-process on fresh topics): one visit task per targeted household for its grid worker; a visit that
reports illness goes through intake as a scored grid_report and opens a case; progress counts are right
and the sweep closes when every visit is done."""

from __future__ import annotations

from typing import Any

import pytest

from safetynet_core.testing import eventually, unique

from .conftest import StartStack, household_record

pytestmark = pytest.mark.integration

TOWNSHIP = "610327101"
VILLAGES = ("610327101201", "610327101202")
LOW_INCOME, COMFORTABLE = 15000.0, 60000.0  # two members: 7,500 per head is within the 8,500 line


async def test_concentrated_sweep_creates_visits_reports_risk_and_closes(start_stack: StartStack) -> None:
    async with start_stack() as stack:
        wf = stack.workflow
        grids = {village: unique("G") for village in VILLAGES}
        targeted: dict[str, str] = {}  # household → grid
        all_households: set[str] = set()
        for village in VILLAGES:
            await wf.user(f"worker-{village}", "grid_worker", village, grids[village])
            for n in range(4):
                household = unique("H")
                all_households.add(household)
                low = n < 3
                await stack.put_household(
                    household_record(household, village, grids[village], LOW_INCOME if low else COMFORTABLE)
                )
                if low:
                    targeted[household] = grids[village]
        await wf.user("township", "township_officer", TOWNSHIP)
        await wf.user("outsider", "township_officer", "610327102")
        await wf.user("cadre", "village_cadre", VILLAGES[0])
        await wf.wait_for_households(all_households)

        township = await wf.auth("township")
        refused = await wf.http.post(
            "/v1/sweeps", json={"kind": "concentrated", "region_code": TOWNSHIP}, headers=await wf.auth("cadre")
        )
        assert refused.status_code == 403, refused.text
        bad = await wf.http.post("/v1/sweeps", json={"kind": "weekly", "region_code": TOWNSHIP}, headers=township)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "kind", bad.text
        launched = await wf.http.post(
            "/v1/sweeps", json={"kind": "concentrated", "region_code": TOWNSHIP}, headers=township
        )
        assert launched.status_code == 202, launched.text
        sweep_id = launched.json()["sweep_id"]

        async def all_visits() -> list[dict[str, Any]]:
            tasks = [t for village in VILLAGES for t in await wf.tasks(f"worker-{village}", kind="sweep_visit")]
            return tasks if len(tasks) == len(targeted) else []

        visits = await eventually(all_visits, timeout=45, message="a visit per targeted household")
        assert sorted(v["household_id"] for v in visits) == sorted(targeted)  # one per targeted household
        assert all(v["grid_id"] == targeted[v["household_id"]] and v["case_id"] == sweep_id for v in visits)

        sweep = await _sweep(wf, township, sweep_id)
        assert (sweep["status"], sweep["targeted"]) == ("running", 6)
        assert sweep["progress"] == {
            "visits": 6, "visited": 0, "due": 6, "overdue": 0, "escalated": 0, "risks_reported": 0
        }  # fmt: skip
        outside = await wf.http.get(f"/v1/sweeps/{sweep_id}", headers=await wf.auth("outsider"))
        assert outside.status_code == 404

        ill, *rest = visits
        village_of_ill = ill["region_code"]
        form = {"met_household": True, "risk_types": ["illness"], "notes": "head of household hospitalised"}
        bad_form = await wf.complete(
            f"worker-{village_of_ill}", ill["task_id"], {"met_household": True, "risk_types": ["flu"]}
        )
        assert bad_form.status_code == 422, bad_form.text
        done = await wf.complete(f"worker-{village_of_ill}", ill["task_id"], form)
        assert done.status_code == 200, done.text

        async def scored() -> dict[str, Any]:
            risk = await stack.risk_of(ill["household_id"], "township")
            latest = (risk or {}).get("latest") or {}
            return latest if "grid_report" in latest.get("warnings", []) else {}

        latest = await eventually(scored, timeout=60, message="the grid_report scored by risk")
        assert "illness" in latest["risk_types"] and latest["opens_case"] is True

        async def case_opened() -> list[dict[str, Any]]:
            response = await wf.http.get("/v1/cases", headers=township)
            return [c for c in response.json()["cases"] if c["household_id"] == ill["household_id"]]

        [case] = await eventually(case_opened, timeout=60, message="a case for the household")
        assert case["status"] == "screening"
        # The case's screen goes to the same grid worker.
        screens = await wf.tasks(f"worker-{village_of_ill}", kind="screen")
        assert [s["household_id"] for s in screens] == [ill["household_id"]]

        sweep = await _sweep(wf, township, sweep_id)
        assert sweep["progress"] == {
            "visits": 6, "visited": 1, "due": 5, "overdue": 0, "escalated": 0, "risks_reported": 1
        }  # fmt: skip
        for visit in rest:
            response = await wf.complete(f"worker-{visit['region_code']}", visit["task_id"], {"met_household": True})
            assert response.status_code == 200, response.text

        async def closed() -> dict[str, Any]:
            current = await _sweep(wf, township, sweep_id)
            return current if current["status"] == "closed" else {}

        final = await eventually(closed, timeout=45, message="the sweep closed")
        assert final["progress"]["visited"] == 6 and final["progress"]["due"] == 0
        listed = await wf.http.get("/v1/sweeps", headers=township, params={"status": "closed"})
        assert [s["sweep_id"] for s in listed.json()["sweeps"]] == [sweep_id]


async def _sweep(wf: Any, auth: dict[str, str], sweep_id: str) -> dict[str, Any]:
    response = await wf.http.get(f"/v1/sweeps/{sweep_id}", headers=auth)
    assert response.status_code == 200, response.text
    return dict(response.json())

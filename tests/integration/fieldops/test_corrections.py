"""Registry corrections (信息更正纠错) end to end on the real stack: a grid worker files an income
correction with evidence; the township reviews, the county approves; intake applies it, re-publishes
the record and risk re-scores the household. A rejected correction changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from safetynet_core.testing import eventually, unique

from .conftest import StartStack, household_record

pytestmark = pytest.mark.integration

VILLAGE, TOWNSHIP, COUNTY = "610327101201", "610327101", "610327"
EVIDENCE = [{"kind": "certificate", "reference": "town-income-2026-0042", "description": "income statement"}]


async def test_correction_reviewed_approved_applied_and_rescored(start_stack: StartStack) -> None:
    async with start_stack() as stack:
        wf = stack.workflow
        household, grid = unique("H"), unique("G")
        await wf.user("worker", "grid_worker", VILLAGE, grid)
        await wf.user("township", "township_officer", TOWNSHIP)
        await wf.user("county", "county_officer", COUNTY)
        await stack.put_household(household_record(household, VILLAGE, grid, income=40000))  # 20,000 a head
        await wf.wait_for_households({household})
        worker = await wf.auth("worker")

        async def assessments() -> list[dict[str, Any]]:
            risk = await stack.risk_of(household, "county")
            return list((risk or {}).get("history") or [])

        before = await eventually(assessments, timeout=45, message="the registry record assessed")
        assert before[0]["score"] < 20

        wrong_type = {"household_id": household, "field": "annual_net_income_cny", "value": "lots", "reason": "x",
                      "evidence": EVIDENCE}  # fmt: skip
        refused = await wf.http.post("/v1/corrections", json=wrong_type, headers=worker)
        assert refused.status_code == 422, refused.text
        no_evidence = {**wrong_type, "value": 9000, "evidence": []}
        refused = await wf.http.post("/v1/corrections", json=no_evidence, headers=worker)
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == "evidence", refused.text

        filed = await wf.http.post(
            "/v1/corrections",
            headers=worker,
            json={
                "household_id": household,
                "field": "annual_net_income_cny",
                "value": 9000,
                "reason": "the registry counted a one-off land compensation as income",
                "evidence": EVIDENCE,
            },
        )
        assert filed.status_code == 202, filed.text
        correction_id = filed.json()["correction_id"]
        assert (filed.json()["status"], filed.json()["region_code"]) == ("under_review", VILLAGE)

        async def decide(username: str, kind: str) -> None:
            [task] = await eventually(lambda: wf.tasks(username, kind=kind), timeout=30, message=f"{kind} task")
            assert task["case_id"] == correction_id
            done = await wf.complete(username, task["task_id"], {"decision": "approve"})
            assert done.status_code == 200, done.text

        await decide("township", "correction_review")
        await decide("county", "correction_approval")

        async def applied() -> dict[str, Any]:
            response = await wf.http.get(f"/v1/corrections/{correction_id}", headers=worker)
            assert response.status_code == 200, response.text
            body = dict(response.json())
            return body if body["status"] == "applied" else {}

        correction = await eventually(applied, timeout=30, message="the correction applied")
        assert correction["outcome"]["intake_status"] == "corrected"
        assert [t["kind"] for t in correction["tasks"]] == ["correction_review", "correction_approval"]

        async def rescored() -> dict[str, Any]:
            history = await assessments()
            return history[0] if len(history) > len(before) else {}

        latest = await eventually(rescored, timeout=60, message="the household re-scored")
        assert latest["score"] >= 50  # 4,500 a head is within the 8,500 line
        listed = await wf.http.get("/v1/corrections", headers=worker, params={"status": "applied"})
        assert [c["correction_id"] for c in listed.json()["corrections"]] == [correction_id]

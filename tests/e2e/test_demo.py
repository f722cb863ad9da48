"""`make demo` against the running stack: a smaller synthetic county under its own county code is loaded
through intake, scored, turned into cases, part of them worked by the demo's case workers, and the summary
the demo prints equals the reports endpoint (and the notifications count equals notify's own)."""

from __future__ import annotations

import random
import re
from typing import Any

import httpx
import pytest

from safetynet_cli import demo
from safetynet_core.testing import eventually

pytestmark = pytest.mark.e2e


async def test_demo_summary_agrees_with_the_reports_endpoint(stack: dict[str, str]) -> None:
    county = f"6{random.randint(20000, 99999)}"  # its own county: other tests' events do not count here
    result = await demo.run(stack, households=240, seed=7, county_code=county, timeout=240, interval=2)
    assert result.settled, result.report
    summary = result.summary()
    loaded = result.events["accepted"] + result.events["duplicates"]
    assert loaded > 300 and result.events["rejected"] == 0
    assert summary["events_received"] == summary["events_assessed"] == loaded
    assert summary["households_flagged"] > 0
    assert sum(summary["households_flagged_by_category"].values()) == summary["households_flagged"]
    assert sum(summary["cases_by_step"].values()) >= summary["households_flagged"]
    assert summary["tasks_open"] >= summary["cases_by_status"].get("screening", 0)
    # The demo's case workers worked part of the caseload through the API: cases left the screen step.
    assert result.casework is not None and result.casework.done["screen"] > 0, result.casework
    assert result.casework.done["home_visit"] > 0 and summary["cases_by_step"].get("verify", 0) > 0

    async with (
        httpx.AsyncClient(base_url=stack["WORKFLOW_URL"], timeout=30) as workflow,
        httpx.AsyncClient(base_url=stack["NOTIFY_URL"], timeout=30) as notify,
    ):
        bearer = await demo.token(workflow)
        auth = {"Authorization": f"Bearer {bearer}"}

        async def agrees() -> dict[str, Any]:
            fresh = await demo.report(workflow, bearer, county)
            assert {k: fresh.get(k) for k in demo.SUMMARY_KEYS} == {k: summary[k] for k in demo.SUMMARY_KEYS}
            return fresh

        fresh = await eventually(agrees, timeout=30, interval=1, message="the printed summary equals the report")
        assert fresh["missed_inclusions_count"] == 0  # every flagged household has its case
        deliveries = await notify.get(
            "/v1/deliveries/summary", params={"region": county, "since": fresh["since"]}, headers=auth
        )
        assert deliveries.status_code == 200, deliveries.text
        assert deliveries.json()["sent"] == fresh["notifications_sent"]

        cases = (await workflow.get("/v1/cases", params={"region": county, "limit": 1}, headers=auth)).json()
        detail = (await workflow.get(f"/v1/cases/{cases['cases'][0]['case_id']}", headers=auth)).json()
        assert isinstance(detail["notifications"], list) and detail["notifications_error"] is None

    with demo.console.capture() as captured:
        demo.print_summary(result, stack)
    printed = captured.get()
    labels = {"tasks open": "tasks_open", "tasks overdue": "tasks_overdue", "events assessed": "events_assessed"}
    for label, key in {**labels, "households flagged": "households_flagged"}.items():
        assert re.search(rf"{label}\s*│\s*{summary[key]}\s*│", printed), printed
    for step, count in summary["cases_by_step"].items():
        assert re.search(rf"cases in step: {step}\s*│\s*{count}\s*│", printed), printed
    assert "demo_village" in printed and stack["WORKFLOW_URL"] in printed

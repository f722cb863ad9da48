"""The rectification ledger (三单一账) on Postgres and Temporal's time-skipping server: a failed sampling
inspection becomes a ledger item with a rectification task for the township; ignored past its
deadline it is marked overdue and escalates to the county; it closes only with evidence. Audit and
report findings are entered through the API (one ledger item per finding)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from safetynet_core.policy import load_policy
from safetynet_core.testing import eventually, unique
from safetynet_workflow.inspection.models import InspectionInput
from safetynet_workflow.inspection.workflow import InspectionTaskWorkflow

from .conftest import StartWorkflow, WorkflowService

pytestmark = pytest.mark.integration

VILLAGE, TOWNSHIP, COUNTY = "610327101201", "610327101", "610327"


async def item_where(wf: WorkflowService, username: str, item_id: str, **expected: Any) -> dict[str, Any]:
    response = await wf.http.get(f"/v1/ledger/{item_id}", headers=await wf.auth(username))
    body = dict(response.json()) if response.status_code == 200 else {}
    return body if body and all(body.get(k) == v for k, v in expected.items()) else {}


async def test_failed_inspection_becomes_ledger_item_that_escalates_when_ignored(
    start_workflow: StartWorkflow, time_env: WorkflowEnvironment
) -> None:
    async with start_workflow(temporal_client=time_env.client) as wf:
        await wf.user("auditor", "auditor", COUNTY)
        await wf.user("township", "township_officer", TOWNSHIP)
        await wf.user("county", "county_officer", COUNTY)
        case_id, household = unique("C"), unique("H")
        await time_env.client.start_workflow(
            InspectionTaskWorkflow.run,
            InspectionInput(
                case_id=case_id,
                household_id=household,
                region_code=VILLAGE,
                close_reason="risk_eliminated",
                round=0,
                policy=load_policy(wf.settings.policy_file).workflow,
            ),
            id=f"inspection-{case_id}-0",
            task_queue=wf.settings.workflow_task_queue,
        )
        [inspection] = await eventually(lambda: wf.tasks("auditor", kind="inspection"), timeout=30)
        failed = await wf.complete(
            "auditor", inspection["task_id"], {"result": "fail", "findings": "income overstated"}
        )
        assert failed.status_code == 200, failed.text

        async def listed() -> list[dict[str, Any]]:
            response = await wf.http.get("/v1/ledger", headers=await wf.auth("township"), params={"status": "open"})
            return [i for i in response.json()["items"] if i["task_id"]]

        [item] = await eventually(listed, timeout=30, message="a ledger item for the failed inspection")
        assert (item["source"], item["source_ref"], item["household_id"]) == (
            "inspection",
            inspection["task_id"],
            household,
        )
        assert (item["problem"], item["owner_role"], item["escalation_level"], item["overdue"]) == (
            "income overstated", "township_officer", 0, False
        )  # fmt: skip
        [task] = await wf.tasks("township", kind="rectification")
        assert task["task_id"] == item["task_id"]

        await time_env.sleep(timedelta(days=16))  # the 15-day deadline passes with nobody acting
        escalated = await eventually(
            lambda: item_where(wf, "county", item["item_id"], overdue=True, escalation_level=1),
            timeout=30,
            message="the ignored item overdue and escalated",
        )
        assert (escalated["owner_role"], escalated["owner_region"], escalated["status"]) == (
            "county_officer", COUNTY, "open"
        )  # fmt: skip
        assert await wf.tasks("township", kind="rectification") == []
        no_evidence = await wf.complete("county", item["task_id"], {"evidence": ""})
        assert no_evidence.status_code == 422 and no_evidence.json()["detail"][0]["loc"][-1] == "evidence"
        closed = await wf.complete("county", item["task_id"], {"evidence": "income re-verified, record corrected"})
        assert closed.status_code == 200, closed.text
        final = await eventually(lambda: item_where(wf, "county", item["item_id"], status="closed"), timeout=30)
        assert final["evidence"]["evidence"] == "income re-verified, record corrected"


async def test_audit_findings_enter_the_ledger_once_and_in_scope(
    start_workflow: StartWorkflow, time_env: WorkflowEnvironment
) -> None:
    async with start_workflow(temporal_client=time_env.client) as wf:
        await wf.user("auditor", "auditor", COUNTY)
        await wf.user("cadre", "village_cadre", VILLAGE)
        auditor = await wf.auth("auditor")
        finding = {"source": "audit", "source_ref": unique("A"), "region_code": TOWNSHIP, "problem": "late visits"}
        created = await wf.http.post("/v1/ledger", json=finding, headers=auditor)
        assert created.status_code == 202, created.text
        again = await wf.http.post("/v1/ledger", json=finding, headers=auditor)
        assert again.status_code == 409 and again.json()["detail"][0]["loc"] == ["body", "source_ref"]
        outside = await wf.http.post("/v1/ledger", json={**finding, "region_code": "610328"}, headers=auditor)
        assert outside.status_code == 403
        cadre = await wf.http.post("/v1/ledger", json=finding, headers=await wf.auth("cadre"))
        assert cadre.status_code == 403
        bad = await wf.http.post("/v1/ledger", json={**finding, "source": "rumour"}, headers=auditor)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "source"
        item = await eventually(
            lambda: item_where(wf, "auditor", created.json()["item_id"], owner_role="township_officer"), timeout=30
        )
        assert (item["status"], item["region_code"], item["owner_region"]) == ("open", TOWNSHIP, TOWNSHIP)

"""The dashboard (and that its totals are the summary report's), 应纳未纳 with reasons, the township
scorecard with its exports, and upward report submissions with their review."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from safetynet_core.auth import Role
from safetynet_workflow.oversight.periods import period_start, today
from safetynet_workflow.projection.models import Entry
from tests.integration.oversight.conftest import (
    CHENGGUAN,
    COUNTY,
    DONGFENG,
    DONGFENG_VILLAGE,
    DONGGUAN,
    NOW,
    XIGUAN,
    County,
)

pytestmark = pytest.mark.integration


def identified(case_id: str, days: float) -> Entry:
    return Entry(key=f"{case_id}-identified", name="case.identified", at=NOW - timedelta(hours=1),
                 details={"days": days})  # fmt: skip


async def county_with_cases(county: County) -> None:
    """城关镇: three open cases (one overdue task, one breach), one closed; 东风镇: one open case; a county-level
    ledger item; four assessed households of which two are 应纳未纳."""
    await county.case("C0001", DONGGUAN, "screen", head="王建国", tasks=[{"kind": "screen", "due_in_days": -1}])
    await county.case("C0002", XIGUAN, "verify", tasks=[{"kind": "home_visit", "due_in_days": 2}],
                      entries=[identified("C0002", 9)])  # fmt: skip
    await county.case("C0003", DONGGUAN, "evaluate", breached=True, entries=[identified("C0003", 18)], tasks=[
        {"kind": "review", "step": "evaluate", "due_in_days": -3, "status": "done", "completed_days_ago": 4},
        {"kind": "review", "step": "evaluate", "due_in_days": -1, "status": "done", "completed_days_ago": 0.5},
    ])  # fmt: skip
    await county.case("C0004", DONGGUAN, "screen", close_reason="dismissed", opened_days_ago=30,
                      closed_days_ago=3, tasks=[{"kind": "inspection", "step": "close", "status": "done",
                      "completed_days_ago": 1, "form": {"result": "fail", "findings": "收入不实"}}])  # fmt: skip
    await county.case("C0005", DONGFENG_VILLAGE, "assist", tasks=[{"kind": "measure", "due_in_days": 5}])
    await county.ledger_item("L1", CHENGGUAN, due_in_days=-2)
    await county.ledger_item("L2", COUNTY, due_in_days=3)
    await county.assessment(f"H{DONGGUAN}0001", DONGGUAN, hours_ago=1)  # has its case (C0001)
    await county.assessment(f"H{DONGGUAN}0004", DONGGUAN, hours_ago=2, head="赵敏")  # after its dismissal: missed
    await county.assessment(f"H{XIGUAN}9001", XIGUAN, hours_ago=24 * 20, head="刘强")  # 20 days, no case: missed
    await county.assessment(f"H{XIGUAN}9002", XIGUAN, hours_ago=3)  # fresh, no case yet: not missed
    await county.assessment(f"H{DONGFENG_VILLAGE}9003", DONGFENG_VILLAGE, hours_ago=24 * 30, opens_case=False)


async def test_dashboard_counts_each_township_and_agrees_with_the_summary(county: County) -> None:
    await county_with_cases(county)
    response = await county.get("/v1/dashboard", Role.COUNTY_OFFICER, COUNTY)
    assert response.status_code == 200, response.text
    board = response.json()
    assert board["region"] == {"code": COUNTY, "name": "陇县"}
    assert [c["name"] for c in board["children"]][:3] == ["城关镇", "东风镇", "八渡镇"] and len(board["children"]) == 10
    chengguan, dongfeng = board["children"][0], board["children"][1]
    assert chengguan == {
        "code": CHENGGUAN, "name": "城关镇", "monitored_households": 3,
        "cases_by_step": {"screen": 1, "verify": 1, "assist": 0, "evaluate": 1},
        "open_tasks": 3, "overdue_tasks": 2, "identification_breaches": 1, "missed_inclusions": 2,
    }  # fmt: skip  (tasks: C0001's screen, C0002's visit, L1's rectification; overdue: the screen and L1)
    assert (dongfeng["monitored_households"], dongfeng["cases_by_step"]["assist"], dongfeng["open_tasks"]) == (1, 1, 1)
    assert board["children"][2]["monitored_households"] == 0
    assert len(board["trend"]) == 12
    assert (sum(w["opened"] for w in board["trend"]), sum(w["closed"] for w in board["trend"])) == (5, 1)
    assert board["trend"][-1]["week"] == period_start("week", today(NOW)).isoformat()

    summary = (await county.get("/v1/reports/summary", Role.COUNTY_OFFICER, COUNTY, period="quarter")).json()
    totals = board["totals"]
    assert totals["open_tasks"] == summary["tasks_open"] == 5  # the county's own ledger item is in no township
    assert totals["overdue_tasks"] == summary["tasks_overdue"]
    assert totals["identification_breaches"] == summary["identification_breached"]
    assert totals["missed_inclusions"] == summary["missed_inclusions_count"] == 2
    open_steps = {k: v for k, v in summary["cases_by_step"].items() if k != "close"}
    assert {k: v for k, v in totals["cases_by_step"].items() if v} == open_steps
    assert totals["monitored_households"] == sum(open_steps.values())

    township = (await county.get("/v1/dashboard", Role.TOWNSHIP_OFFICER, CHENGGUAN)).json()
    assert township["region"] == {"code": CHENGGUAN, "name": "城关镇"}
    villages = {c["name"]: c for c in township["children"]}
    assert villages["东关村"]["monitored_households"] == 2 and villages["西关村"]["missed_inclusions"] == 1
    for role, scope, params in ((Role.VILLAGE_CADRE, DONGGUAN, {}), (Role.GRID_WORKER, DONGGUAN, {}),
                                (Role.TOWNSHIP_OFFICER, CHENGGUAN, {"region": DONGFENG})):  # fmt: skip
        assert (await county.get("/v1/dashboard", role, scope, **params)).status_code == 403
    audit = await county.get("/v1/dashboard", Role.AUDITOR, COUNTY, region=DONGFENG)
    assert audit.status_code == 200 and audit.json()["children"][0]["name"] == "东风村"


async def test_missed_inclusions_list_their_reasons(county: County) -> None:
    await county_with_cases(county)
    response = await county.get("/v1/reports/missed-inclusions", Role.AUDITOR, COUNTY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["region_name"] == "陇县" and body["count"] == 2
    old, dismissed = body["missed_inclusions"]
    assert (old["household_id"], old["why"], old["head_name"]) == (f"H{XIGUAN}9001", "not_opened_in_time", "刘强")
    assert old["region_name"] == "城关镇 西关村"
    assert old["reasons"][0]["reason_zh"] == "近12个月医疗自付达到预警线"
    assert (dismissed["household_id"], dismissed["why"]) == (f"H{DONGGUAN}0004", "earlier_case_closed")
    exported = await county.get("/v1/reports/missed-inclusions", Role.AUDITOR, COUNTY, format="csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:4] == ["household_id", "head_name", "region_code", "region_name"] and len(rows) == 3
    assert (await county.get("/v1/reports/missed-inclusions", Role.TOWNSHIP_OFFICER, DONGFENG)).json()["count"] == 0


async def test_scorecard_of_the_quarter_and_its_exports(county: County) -> None:
    await county_with_cases(county)
    response = await county.get("/v1/reports/scorecard", Role.COUNTY_OFFICER, COUNTY)
    assert response.status_code == 200, response.text
    card = response.json()
    chengguan = card["townships"][0]
    assert chengguan["name"] == "城关镇" and card["identification_limit_days"] == 15
    assert (chengguan["identified"], chengguan["identified_within_limit"]) == (2, 1)
    assert chengguan["identification_within_limit_share"] == 0.5
    assert (chengguan["reviews_due"], chengguan["reviews_on_time"], chengguan["reviews_on_time_share"]) == (2, 1, 0.5)
    assert (chengguan["inspections"], chengguan["failed_inspections"]) == (1, 1)
    assert chengguan["rectification_overdue"] == 1
    assert chengguan["active_cases"] == 4 and chengguan["overdue_tasks"] == 3  # the screen, a review, L1
    assert chengguan["overdue_tasks_per_100_cases"] == 75.0
    assert card["townships"][2]["identification_within_limit_share"] is None  # nothing identified there

    exported = await county.get("/v1/reports/scorecard", Role.COUNTY_OFFICER, COUNTY, format="csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["区划代码", "乡镇"] and rows[1][:2] == [CHENGGUAN, "城关镇"] and len(rows) == 11
    sheet = await county.get("/v1/reports/scorecard", Role.COUNTY_OFFICER, COUNTY, format="xlsx")
    book = load_workbook(io.BytesIO(sheet.content))
    values = list(book.active.values)
    assert values[1][1] == "城关镇" and values[1][2] == 4
    bad = await county.get("/v1/reports/scorecard", Role.COUNTY_OFFICER, COUNTY, quarter="2026-Q5")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "quarter"


async def test_townships_submit_reports_and_the_county_reviews_them(county: County) -> None:
    await county_with_cases(county)
    township = await county.auth(Role.TOWNSHIP_OFFICER, CHENGGUAN)
    county_officer = await county.auth(Role.COUNTY_OFFICER, COUNTY)
    this_week = period_start("week", today(NOW))
    body = {"region": CHENGGUAN, "period": "week", "period_start": this_week.isoformat()}

    submitted = await county.http.post("/v1/reports/submissions", json=body, headers=township)
    assert submitted.status_code == 201, submitted.text
    report = submitted.json()
    assert (report["status"], report["late"], report["region_name"]) == ("submitted", False, "城关镇")
    assert report["summary"]["cases_by_step"]["screen"] == 1
    again = await county.http.post("/v1/reports/submissions", json=body, headers=township)
    assert again.status_code == 409
    tuesday = {**body, "period_start": (this_week + timedelta(days=1)).isoformat()}
    misaligned = await county.http.post("/v1/reports/submissions", json=tuesday, headers=township)
    assert misaligned.status_code == 422 and misaligned.json()["detail"][0]["loc"] == ["body", "period_start"]
    elsewhere = await county.http.post("/v1/reports/submissions", json={**body, "region": DONGFENG}, headers=township)
    assert elsewhere.status_code == 403
    old = {**body, "period_start": (this_week - timedelta(days=21)).isoformat()}
    late = await county.http.post("/v1/reports/submissions", json=old, headers=township)
    assert late.status_code == 201 and late.json()["late"] is True

    missing = (await county.get("/v1/reports/submissions/missing", Role.COUNTY_OFFICER, COUNTY)).json()
    assert missing["period_start"] == this_week.isoformat() and len(missing["missing"]) == 9
    assert [s["region"] for s in missing["submitted"]] == [CHENGGUAN] and missing["missing"][0]["name"] == "东风镇"

    review = f"/v1/reports/submissions/{report['submission_id']}/review"
    own = await county.http.post(review, json={"decision": "approve"}, headers=township)
    assert own.status_code == 403
    no_note = await county.http.post(review, json={"decision": "return"}, headers=county_officer)
    assert no_note.status_code == 422 and no_note.json()["detail"][0]["loc"] == ["body", "note"]
    returned = await county.http.post(review, json={"decision": "return", "note": "补充本周入户数"},
                                      headers=county_officer)  # fmt: skip
    assert returned.status_code == 200 and returned.json()["status"] == "returned"
    assert (await county.http.post(review, json={"decision": "approve"}, headers=county_officer)).status_code == 409
    resubmitted = await county.http.post("/v1/reports/submissions", json=body, headers=township)
    assert resubmitted.status_code == 201
    approve = f"/v1/reports/submissions/{resubmitted.json()['submission_id']}/review"
    approved = await county.http.post(approve, json={"decision": "approve", "note": ""}, headers=county_officer)
    assert approved.json()["status"] == "approved" and approved.json()["reviewed_at"]

    listed = (await county.get("/v1/reports/submissions", Role.COUNTY_OFFICER, COUNTY, status="returned")).json()
    assert [s["review_note"] for s in listed["submissions"]] == ["补充本周入户数"]
    everything = (await county.get("/v1/reports/submissions", Role.TOWNSHIP_OFFICER, CHENGGUAN)).json()
    assert len(everything["submissions"]) == 3 and "summary" not in everything["submissions"][0]
    one = await county.http.get(f"/v1/reports/submissions/{report['submission_id']}", headers=county_officer)
    assert one.json()["summary"]["region"] == CHENGGUAN and one.json()["summary"]["period"] == "week"
    cadre = await county.get("/v1/reports/submissions", Role.VILLAGE_CADRE, DONGGUAN)
    assert cadre.status_code == 403

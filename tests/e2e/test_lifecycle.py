"""A case's whole life on the real stack (intake → Kafka → risk → Temporal → notify), on a drill clock
where a policy day lasts two seconds (DESIGN.md §2, issue 19):

- H1 is flagged by a hospital bill, screened, visited, put on notice (an objection sends it back to the
  visit), reviewed by township and county, gets a plan with a responsible cadre and measures, is reviewed
  monthly with an income above the line, is eliminated and closed as `risk_eliminated`, is drawn by the
  sampler, fails its inspection and reopens as the same case;
- H2's screen task is ignored: it climbs village → township → county, and its reminder and escalations
  reach a webhook;
- H3 has no one who can work: it stays under safety-net support however its income moves.

The timeline of H1 (moment, step, who) is written to tests/e2e/artifacts/lifecycle-timeline.txt."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from lifecycle_stack import DAY_SECONDS, Drill, Receiver, drill_policy, drill_stack

from safetynet_core.testing import eventually
from safetynet_core.vocabulary import GUARANTEES

pytestmark = pytest.mark.e2e
VILLAGE = "610327100201"
ARTIFACTS = Path(__file__).parent / "artifacts"
SECURE = dict.fromkeys(GUARANTEES, True)
VISIT = {"visitors": ["李伟", "王芳"], "consent": True, "members_present": 2, "notes": "", "guarantees": SECURE}
APPROVE = {"decision": "approve"}
MONTH = 30 * DAY_SECONDS
TOWNSHIP_UP, COUNTY_UP = ("township", "county"), ("county",)


def registry(household_id: str, income: float, labour: str, members: int = 3) -> dict[str, Any]:
    serial = uuid.uuid4().int % 10**3
    return {
        "household_id": household_id,
        "region_code": VILLAGE,
        "poverty_status": "general",
        "annual_net_income_cny": income,
        "head_member_id": f"{household_id}-m0",
        "members": [
            {
                "member_id": f"{household_id}-m{i}",
                "name": f"成员{i}",
                "id_number": f"61032719800101{serial:03d}{i}",
                "birth_date": "1980-01-01",
                "labour_capacity": labour,
            }
            for i in range(members)
        ],
    }


def hospital_bill(household_id: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "medical_expense",
        "household_id": household_id,
        "member_id": f"{household_id}-m0",
        "occurred_at": datetime.now(UTC).isoformat(),
        "reference": "hospital-bill",
        "payload": {"total_cost_cny": 20000, "out_of_pocket_cny": 12000, "inpatient": True},
    }


async def identify(drill: Drill, household: str, *, objection: bool) -> None:
    """Screen, visit (and, with an objection during the notice, visit again), compare, township, county."""
    await drill.complete(household, "screen", {"decision": "proceed"})
    await drill.complete(household, "home_visit", {**VISIT, "verified_annual_income_cny": 30000})
    await drill.complete(household, "data_comparison", {"consistent": True, "notes": ""}, ladder=TOWNSHIP_UP)
    if objection:
        case = await drill.case_until(
            "cadre", household, lambda c: c["notice_until"] is not None, "the inclusion notice", 30
        )
        answer = await drill.call("cadre", "POST", f"/v1/cases/{case['case_id']}/objections",
                                  json={"reason": "the family has a new shop"})  # fmt: skip
        assert answer.status_code == 202, answer.text
        drill.note(household, "objection (back to the visit)", "cadre")
        await drill.complete(household, "home_visit", {**VISIT, "verified_annual_income_cny": 30000})
    await drill.complete(household, "township_review", APPROVE, ladder=TOWNSHIP_UP, timeout=90)
    await drill.complete(household, "county_approval", APPROVE, ladder=COUNTY_UP)


async def assist(drill: Drill, household: str, measures: list[tuple[str, str, str]]) -> None:
    """The plan; each measure started by its department officer in the UI's API, or (officer "intake") by
    the department's own system answering with a `measure_update` event through intake."""
    plan = {
        "measures": [{"type": kind, "department": department, "description": kind} for kind, department, _ in measures],
        "responsible": "cadre",
    }
    await drill.complete(household, "assistance_plan", plan, ladder=TOWNSHIP_UP)
    for kind, department, officer in measures:
        if officer == "intake":
            await acknowledged_through_intake(drill, household, kind, department)
            continue
        started = {"started_on": "2026-12-06", "notes": "started"}
        await drill.complete(household, "measure", started, (officer, "county"))


async def acknowledged_through_intake(drill: Drill, household: str, kind: str, department: str) -> None:
    """The department's system says the measure is done: the measure task moves to done on the case."""
    case = await drill.case("county", household)
    await drill.post_event(
        {
            "event_id": str(uuid.uuid4()),
            "type": "measure_update",
            "household_id": household,
            "occurred_at": datetime.now(UTC).isoformat(),
            "reference": "subsidy-2026-12",
            "payload": {"case_id": case["case_id"], "measure_type": kind, "status": "done", "note": "subsidy paid"},
        }
    )

    def measure_done(c: dict[str, Any]) -> bool:
        return any(t["kind"] == "measure" and t["department"] == department and t["status"] == "done"
                   for t in c["tasks"])  # fmt: skip

    done = await drill.case_until("county", household, measure_done, f"{kind} acknowledged by {department}", 60)
    task = next(t for t in done["tasks"] if t["kind"] == "measure" and t["department"] == department)
    assert task["completed_by"] == f"department:{department}"
    drill.note(household, f"measure {kind} done (measure_update via intake)", department)


async def review_until(drill: Drill, household: str, stop: Callable[[], Any], income: float) -> int:
    """The monthly reviews (the responsible cadre's first) with `income`, until `stop()` answers truthy."""
    reviews = 0
    while not await stop():
        try:
            username, task = await drill.open_task(household, "review", timeout=3 * DAY_SECONDS)
        except AssertionError:
            continue
        form = {"annual_net_income_cny": income, "guarantees": SECURE, "notes": "stable"}
        answer = await drill.call(username, "POST", f"/v1/tasks/{task['task_id']}/complete", json=form)
        if answer.status_code == 200:
            reviews += 1
            drill.note(household, "review", username)
    return reviews


async def eliminated_and_reopened(drill: Drill, h1: str) -> dict[str, Any]:
    async def elimination_visit() -> bool:
        answer = await drill.call("cadre", "GET", "/v1/tasks", params={"kind": "elimination_visit"})
        return any(t["household_id"] == h1 for t in answer.json()["tasks"])

    reviews = await review_until(drill, h1, elimination_visit, income=45000)
    assert reviews >= 1
    await drill.complete(h1, "elimination_visit", {**VISIT, "verified_annual_income_cny": 45000})
    await drill.complete(h1, "elimination_township_check", APPROVE, ladder=TOWNSHIP_UP, timeout=90)
    await drill.complete(h1, "elimination_county_decision", APPROVE, ladder=COUNTY_UP)
    closed = await drill.case_until("county", h1, lambda c: c["status"] == "closed", "H1 closed", 60)
    assert closed["close_reason"] == "risk_eliminated"
    drill.note(h1, "closed: risk_eliminated", "system")
    failed = {"result": "fail", "findings": "income not verified"}
    await drill.complete(h1, "inspection", failed, ("auditor", "county"), timeout=120)
    reopened = await drill.case_until(
        "county", h1, lambda c: c["status"] != "closed", "H1 reopened after the failed inspection", 90
    )
    drill.note(h1, f"reopened at {reopened['step']}", "system")
    assert reopened["case_id"] == closed["case_id"]
    return reopened


async def stays_under_safety_net(drill: Drill, h3: str) -> dict[str, Any]:
    await identify(drill, h3, objection=False)
    await assist(drill, h3, [("minimum_living_allowance", "civil_affairs", "civil")])
    case = await drill.case("county", h3)
    deadline = asyncio.get_running_loop().time() + MONTH + 10 * DAY_SECONDS

    async def long_enough() -> bool:
        return asyncio.get_running_loop().time() > deadline

    await review_until(drill, h3, long_enough, income=60000)  # 20,000 a head: far above the line
    case = await drill.case("county", h3)
    assert case["status"] == "evaluating" and case["household"]["labour_members"] == 0
    assert "case.safety_net_support" in {e["name"] for e in case["timeline"]}
    assert not [t for t in case["tasks"] if t["kind"] == "elimination_visit"]
    return case


async def escalation_reaches_the_webhook(drill: Drill, receiver: Receiver, h2: str) -> None:
    def deliveries() -> list[dict[str, Any]]:
        return [b for b in receiver.bodies if b.get("household_id") == h2 and b.get("event", "").startswith("task.")]

    async def climbed() -> list[dict[str, Any]] | None:
        got = deliveries()
        levels = [(b.get("task") or {}).get("level") or b["details"].get("to", {}).get("level") for b in got
                  if b["event"] == "task.escalated"]  # fmt: skip
        return got if "task.reminder" in {b["event"] for b in got} and len(levels) >= 2 else None

    got = await eventually(climbed, timeout=90, interval=0.5, message="H2's reminder and escalations delivered")
    escalated = [b for b in got if b["event"] == "task.escalated"]
    assert [b["details"]["to"]["level"] for b in escalated][:2] == ["township", "county"]
    assert all(b["task"]["kind"] == "screen" for b in escalated)
    case = await drill.case("county", h2)
    screen = next(t for t in case["tasks"] if t["kind"] == "screen")
    assert screen["region_code"] == "610327" and screen["escalation_level"] >= 2  # still in the county's inbox


@pytest.mark.timeout(420)
async def test_a_case_lives_its_whole_life_on_the_live_stack(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any], tmp_path: Path
) -> None:
    receiver = Receiver()
    async with drill_stack(isolated_settings, provision, drill_policy(tmp_path), receiver) as drill:
        subscribed = await drill.http.post(
            f"{drill.urls['notify']}/v1/subscriptions",
            json={"url": f"{drill.urls['receiver']}/hook", "secret": "drill-webhook-secret-2026",
                  "events": ["task.reminder", "task.overdue", "task.escalated"], "region_prefix": "610327"},
            headers=await drill.auth("county"),
        )  # fmt: skip
        assert subscribed.status_code == 201, subscribed.text
        h1, h2, h3 = (f"H{VILLAGE}{n}{uuid.uuid4().hex[:4]}" for n in range(3))
        await drill.put_household(registry(h1, 30000, "full"))  # 10,000 a head: above the line ...
        await drill.put_household(registry(h2, 30000, "full"))
        await drill.put_household(registry(h3, 6000, "none", members=2))  # 3,000 a head, and no one can work
        await drill.post_event(hospital_bill(h1))  # ... until 12,000 of hospital costs
        await drill.post_event(hospital_bill(h2))
        case = await drill.case_until("county", h1, lambda c: c["household"]["size"], "H1's registry facts", 90)
        assert case["household"] == {"size": 3, "labour_members": 3, "head_name": "成员0"}
        drill.note(h1, f"case opened ({case['category']}, {case['level']})", "risk → workflow")

        async def h1_life() -> dict[str, Any]:
            await identify(drill, h1, objection=True)
            await assist(drill, h1, [("employment", "human_resources", "hr"),
                                     ("medical_assistance", "medical_insurance", "intake")])  # fmt: skip
            return await eliminated_and_reopened(drill, h1)

        reopened, _, _ = await asyncio.gather(
            h1_life(), stays_under_safety_net(drill, h3), escalation_reaches_the_webhook(drill, receiver, h2)
        )
        assert reopened["responsible"] == "cadre" and reopened["household"]["size"] == 3
        names = [e["name"] for e in reopened["timeline"]]
        for expected in ("notice.objected", "notice.ended", "case.responsible_named", "case.closed"):
            assert expected in names, expected
        ARTIFACTS.mkdir(exist_ok=True)
        lines = [f"{at:7.1f}s  {household[-6:]}  {what:40s}  {actor}" for at, household, what, actor in drill.timeline]
        (ARTIFACTS / "lifecycle-timeline.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

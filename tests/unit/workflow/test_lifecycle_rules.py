"""Time-skipping tests of the case lifecycle's rules (issue 19): the county keeps seeing a task escalated
beyond it, labour capacity and household size come from the registry (a visit corrects them only
explicitly), the responsible cadre gets the reviews, the guarantees checklist and combined measures
decide, the county closes a case by hand, and a death in a one-person household proposes a natural close."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from workflow_harness import (
    APPROVE,
    COMPARISON,
    PLAN,
    POLICY,
    REVIEW_OK,
    SAFETY_PLAN,
    SCREEN_OK,
    SECURE,
    VISIT,
    Harness,
    evidence,
)

from safetynet_core.policy.workflow import WorkflowPolicy
from safetynet_core.vocabulary import CloseReason
from safetynet_workflow.cases.models import CloseRequest, DeathReported, HouseholdFacts, MeasureAcknowledged
from safetynet_workflow.cases.workflow import CaseWorkflow
from safetynet_workflow.projection.models import CaseRow
from safetynet_workflow.tasks.models import CompleteRequest


def household() -> str:
    return f"H{uuid.uuid4().hex[:10]}"


def facts(household_id: str, size: int, labour_members: int | None) -> HouseholdFacts:
    return HouseholdFacts(household_id=household_id, size=size, labour_members=labour_members, head_name="王建国")


def plan_of(task_id: str) -> CompleteRequest:
    return CompleteRequest(task_id=task_id, username="u", form=PLAN)


async def to_county_approval(harness: Harness, handle: WorkflowHandle) -> None:
    await harness.complete(handle, "screen", SCREEN_OK)
    await harness.complete(handle, "home_visit", VISIT)
    await harness.complete(handle, "data_comparison", COMPARISON)
    await harness.complete(handle, "township_review", APPROVE)


async def test_a_county_task_escalated_beyond_the_county_stays_in_the_countys_inbox(harness: Harness) -> None:
    """Defect 1: past the county the ladder's next rung is the city (a 4-digit prefix no county officer
    sees); the task must stay listed under the county, marked as gone beyond it."""
    handle = await harness.start(evidence(household()))
    await to_county_approval(harness, handle)
    task = await harness.task(handle, "county_approval")
    assert (task.region_code, task.level.value) == ("610327", "county")
    await harness.env.sleep(timedelta(days=3, hours=1))  # past 150% of the 2-day SLA: escalated twice
    approval = next(t for t in (await harness.snapshot(handle)).tasks if t.kind == "county_approval")
    assert approval.level.value == "city" and approval.escalation_level == 2 and approval.overdue
    assert approval.region_code == "610327" and approval.role == "county_officer"
    escalated = harness.recorder.entries("task.escalated")
    assert [e.details["to"]["region_code"] for e in escalated if e.task_id == approval.task_id] == ["610327"] * 2
    await harness.complete(handle, "county_approval", APPROVE)  # the county can still decide
    await harness.task(handle, "assistance_plan")
    await handle.terminate()


async def test_labour_capacity_comes_from_the_registry(harness: Harness) -> None:
    """Defect 2: a household whose registry members cannot work is not forced into a work measure and is
    never eliminated (before, an unknown labour capacity was read as "can work")."""
    hh = household()
    handle = await harness.start(evidence(hh), household=facts(hh, size=2, labour_members=0))
    await harness.verify(handle)  # the visit confirms nothing about labour
    plan_task = await harness.task(handle, "assistance_plan")
    with pytest.raises(WorkflowUpdateFailedError):  # no labour: a work-only plan is refused
        await handle.execute_update("complete_task", plan_of(plan_task.task_id))
    await harness.assist(handle, SAFETY_PLAN)
    for _ in range(8):
        await harness.complete(handle, "review", REVIEW_OK, skip=timedelta(days=1))
    snapshot = await harness.snapshot(handle)
    assert snapshot.stable_months == 8 and snapshot.case.labour is False and snapshot.case.labour_members == 0
    assert not [t for t in snapshot.tasks if t.kind == "elimination_visit"]
    assert harness.recorder.entries("case.safety_net_support")
    await handle.terminate()


async def test_per_capita_income_uses_the_registry_size_not_who_was_home(harness: Harness) -> None:
    """Defect 3: two of five members at home during the visit; 30,000 CNY a year is 6,000 a head (below
    the 8,500 line), not 15,000. Only an explicit correction changes the size."""
    hh = household()
    handle = await harness.start(evidence(hh), household=facts(hh, size=5, labour_members=2))
    await harness.verify(handle, visit={**VISIT, "members_present": 2})
    await harness.assist(handle)
    await harness.complete(handle, "review", {**REVIEW_OK, "annual_net_income_cny": 30000}, skip=timedelta(days=1))
    snapshot = await harness.snapshot(handle)
    assert snapshot.stable_months == 0 and snapshot.case.household_size == 5
    await harness.complete(handle, "review", {**REVIEW_OK, "annual_net_income_cny": 30000, "members": 3})
    snapshot = await harness.snapshot(handle)
    assert snapshot.stable_months == 1 and snapshot.case.household_size == 3  # corrected explicitly
    await handle.terminate()


async def test_the_visit_feeds_the_case_and_the_plan_names_the_responsible_cadre(harness: Harness) -> None:
    hh = household()
    handle = await harness.start(evidence(hh), household=facts(hh, size=3, labour_members=2))
    await harness.verify(handle, visit={**VISIT, "verified_annual_income_cny": 9600})
    await harness.assist(handle)
    snapshot = await harness.snapshot(handle)
    assert snapshot.case.verified_income_cny == 9600 and snapshot.case.responsible == PLAN["responsible"]
    review = await harness.task(handle, "review", skip=timedelta(days=1))
    assert review.assignee == PLAN["responsible"] and review.status.value == "claimed"  # theirs first
    await harness.env.sleep(timedelta(days=7, hours=1))  # ignored: up the ladder
    review = next(t for t in (await harness.snapshot(handle)).tasks if t.kind == "review" and t.is_open)
    assert review.assignee is None and review.level.value == "township"
    await handle.terminate()


async def test_a_review_with_any_guarantee_insecure_cannot_lead_to_elimination(harness: Harness) -> None:
    policy = harness_policy_with_short_elimination()
    hh = household()
    handle = await harness.start(evidence(hh), policy=policy, household=facts(hh, size=3, labour_members=2))
    await harness.verify(handle)
    await harness.assist(handle)
    insecure = {**REVIEW_OK, "guarantees": {**SECURE, "drinking_water": False}}
    await harness.complete(handle, "review", insecure, skip=timedelta(days=5))
    snapshot = await harness.snapshot(handle)
    assert snapshot.stable_months == 0
    assert not [t for t in snapshot.tasks if t.kind == "elimination_visit"]
    await harness.complete(handle, "review", REVIEW_OK, skip=timedelta(days=5))
    await harness.task(handle, "elimination_visit")
    await handle.terminate()


def harness_policy_with_short_elimination() -> WorkflowPolicy:
    rules = POLICY.workflow.elimination.model_copy(update={"min_monitored_months": 1, "stable_income_months": 1})
    return POLICY.workflow.model_copy(update={"elimination": rules})


async def test_a_plan_for_several_risks_addresses_each(harness: Harness) -> None:
    hh = household()
    handle = await harness.start(
        evidence(hh, risk_types=["illness", "education"]), household=facts(hh, size=4, labour_members=2)
    )
    await harness.verify(handle)
    plan_task = await harness.task(handle, "assistance_plan")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("complete_task", plan_of(plan_task.task_id))
    assert "education" in str(refused.value.cause) and "illness" in str(refused.value.cause)
    combined = {
        **PLAN,
        "measures": [
            *PLAN["measures"],
            {"type": "medical_assistance", "department": "medical_insurance", "description": "bills"},
            {"type": "education_assistance", "department": "education", "description": "雨露计划"},
        ],
    }
    await harness.complete(handle, "assistance_plan", combined)
    await harness.task(handle, "measure")
    await handle.terminate()


async def test_the_county_closes_a_duplicate_and_its_open_tasks_are_cancelled(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    await harness.complete(handle, "screen", SCREEN_OK)
    await harness.task(handle, "home_visit")
    request = CloseRequest(reason=CloseReason.DUPLICATE, note="same family", duplicate_of="C-other", username="county")
    await handle.execute_update(CaseWorkflow.close_case, request)
    result: CaseRow = await handle.result()
    assert result.close_reason == "duplicate"
    closed = harness.recorder.entries("case.closed")[-1]
    assert closed.details["duplicate_of"] == "C-other" and closed.details["by"] == "county"
    tasks = [t for c in harness.recorder.changes for t in c.tasks if t.kind in ("home_visit", "data_comparison")]
    assert tasks and tasks[-1].status.value == "cancelled"
    assert harness.recorder.entries("case.close_requested")


async def test_a_death_in_a_one_person_household_proposes_a_natural_close(harness: Harness) -> None:
    hh = household()
    handle = await harness.start(evidence(hh), household=facts(hh, size=1, labour_members=0))
    await harness.complete(handle, "screen", SCREEN_OK)
    await handle.signal(CaseWorkflow.report_death, DeathReported(event_id="e-death", occurred_at=datetime.now(UTC)))
    review = await harness.task(handle, "natural_close_review")
    assert review.role == "county_officer" and review.region_code == "610327"
    await harness.complete(handle, "natural_close_review", APPROVE)
    result: CaseRow = await handle.result()
    assert result.close_reason == "natural"
    assert harness.recorder.entries("case.natural_close_proposed")



def acknowledgement(case_id: str, status: str, note: str = "") -> MeasureAcknowledged:
    return MeasureAcknowledged(
        event_id=uuid.uuid4().hex, case_id=case_id, department="human_resources", measure_type="employment",
        status=status, note=note, occurred_at=datetime.now(UTC),
    )  # fmt: skip


async def test_a_departments_answer_moves_its_measure_task(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    await harness.verify(handle)
    await harness.complete(handle, "assistance_plan", PLAN)
    measure = await harness.task(handle, "measure")
    case_id = measure.case_id
    started = acknowledgement(case_id, "started")
    await handle.signal(CaseWorkflow.acknowledge_measure, started)
    await handle.signal(CaseWorkflow.acknowledge_measure, started)  # redelivered: applied once
    await harness.task(handle, "review", skip=timedelta(days=1))  # the only measure is in place: evaluate
    done = next(t for t in (await harness.snapshot(handle)).tasks if t.task_id == measure.task_id)
    assert done.status.value == "done" and done.completed_by == "department:human_resources"
    assert len(harness.recorder.entries("measure.acknowledged")) == 1
    await handle.terminate()


async def test_a_plan_whose_measures_are_all_refused_goes_back_to_the_township(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    await harness.verify(handle)
    await harness.complete(handle, "assistance_plan", PLAN)
    measure = await harness.task(handle, "measure")
    await handle.signal(CaseWorkflow.acknowledge_measure, acknowledgement(measure.case_id, "refused", "no vacancy"))
    again = await harness.task(handle, "assistance_plan")
    assert again.task_id != measure.task_id
    [refusal] = harness.recorder.entries("measure.refused")
    assert refusal.details["note"] == "no vacancy" and refusal.task_id == measure.task_id
    await handle.terminate()

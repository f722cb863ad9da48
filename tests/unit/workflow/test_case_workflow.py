"""Time-skipping tests walking every path of the case workflow (activities replaced by recorders)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from workflow_harness import (
    APPROVE,
    COMPARISON,
    MEASURE,
    PLAN,
    POLICY,
    REJECT,
    REVIEW_OK,
    SAFETY_PLAN,
    SCREEN_OK,
    VISIT,
    Harness,
    evidence,
)

from safetynet_core.vocabulary import Step
from safetynet_workflow.cases.models import ObjectionRequest
from safetynet_workflow.cases.workflow import CaseWorkflow
from safetynet_workflow.inspection.models import InspectionInput, SampledCase, SamplerInput
from safetynet_workflow.inspection.workflow import InspectionSamplerWorkflow, InspectionTaskWorkflow
from safetynet_workflow.projection.models import CaseRow
from safetynet_workflow.tasks.models import CompleteRequest


def household() -> str:
    return f"H{uuid.uuid4().hex[:10]}"


async def test_dismissed_at_screen(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    await harness.complete(handle, "screen", {"decision": "dismiss", "reason": "duplicate report"})
    result: CaseRow = await handle.result()
    assert result.close_reason == "dismissed" and result.status == "closed"
    names = harness.recorder.names(result.case_id)
    assert names[0] == "case.opened" and names[1] == "task.assigned" and names[-1] == "case.closed"


async def test_bad_form_is_rejected_before_anything_is_written(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    await harness.complete(handle, "screen", SCREEN_OK)
    task = await harness.task(handle, "home_visit")
    before = len(harness.recorder.changes)
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(
            "complete_task",
            CompleteRequest(
                task_id=task.task_id, username="u", form={**VISIT, "visitors": ["only one"], "consent": False}
            ),
        )
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "FormInvalid"
    fields = {tuple(e["loc"]) for e in cause.details[0]}
    assert ("body", "visitors") in fields and ("body", "consent") in fields
    assert len(harness.recorder.changes) == before
    snapshot = await harness.snapshot(handle)
    assert snapshot.case.step == Step.VERIFY and next(t for t in snapshot.tasks if t.kind == "home_visit").is_open
    await handle.terminate()


async def test_not_eligible_at_verify(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    await harness.complete(handle, "screen", SCREEN_OK)
    await harness.complete(handle, "home_visit", VISIT)
    await harness.complete(handle, "data_comparison", COMPARISON)
    await harness.complete(handle, "township_review", APPROVE)
    await harness.complete(handle, "county_approval", REJECT)
    result: CaseRow = await handle.result()
    assert result.close_reason == "not_eligible"
    assert result.identified_at is not None and not result.identification_breached


async def test_objection_during_notice_goes_back_to_the_visit(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    await harness.complete(handle, "screen", SCREEN_OK)
    first_visit = await harness.complete(handle, "home_visit", VISIT)
    await harness.complete(handle, "data_comparison", COMPARISON)
    for _ in range(50):
        if (await harness.snapshot(handle)).notice_open:
            break
        await harness.env.sleep(timedelta(seconds=1))
    await harness.env.sleep(timedelta(days=2))
    await handle.execute_update(
        CaseWorkflow.file_objection, ObjectionRequest(username="neighbour", reason="they own a car")
    )
    second_visit = await harness.complete(handle, "home_visit", VISIT)
    assert second_visit.task_id != first_visit.task_id
    await harness.complete(handle, "township_review", APPROVE)
    names = harness.recorder.names(published_only=False)
    assert names.count("notice.published") == 2 and "notice.objected" in names
    notices = harness.recorder.entries("notice.published")
    assert notices[1].at - notices[0].at >= timedelta(days=2)
    # The second notice ran its full five days from the second visit.
    assert (await harness.snapshot(handle)).case.step == Step.VERIFY
    await handle.terminate()


async def test_objection_outside_a_notice_is_refused(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(CaseWorkflow.file_objection, ObjectionRequest(username="x", reason="y"))
    await handle.terminate()


async def test_full_path_to_elimination_after_six_monthly_reviews(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    await harness.verify(handle)
    await harness.assist(handle)
    for month in range(6):
        await harness.complete(handle, "review", REVIEW_OK, skip=timedelta(days=1))
        snapshot = await harness.snapshot(handle)
        assert snapshot.stable_months == month + 1
    await harness.complete(handle, "elimination_visit", VISIT)
    await harness.complete(handle, "elimination_township_check", APPROVE)
    await harness.complete(handle, "elimination_county_decision", APPROVE)
    result: CaseRow = await handle.result()
    assert result.close_reason == "risk_eliminated"
    assert result.closed_at is not None and result.closed_at - result.opened_at >= timedelta(days=180)
    steps = [e.details["to"] for e in harness.recorder.entries("case.step_changed")]
    assert steps == ["verify", "assist", "evaluate"]
    assert len([e for e in harness.recorder.entries("task.assigned")]) >= 6 + 9


async def test_household_without_labour_is_never_eliminated(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    await harness.verify(handle, visit={**VISIT, "labour_capacity": "none"})
    plan_task = await harness.task(handle, "assistance_plan")
    with pytest.raises(WorkflowUpdateFailedError):  # no labour → a work-only plan is refused
        await handle.execute_update(
            "complete_task", CompleteRequest(task_id=plan_task.task_id, username="u", form=PLAN)
        )
    await harness.assist(handle, SAFETY_PLAN)
    for _ in range(8):
        await harness.complete(handle, "review", REVIEW_OK, skip=timedelta(days=1))
    snapshot = await harness.snapshot(handle)
    assert snapshot.case.step == Step.EVALUATE and snapshot.stable_months == 8
    assert not [t for t in snapshot.tasks if t.kind.startswith("elimination")]
    assert harness.recorder.entries("case.safety_net_support")
    await handle.terminate()


async def test_green_channel_starts_assistance_before_verification_ends(harness: Harness) -> None:
    handle = await harness.start(evidence(household(), level="critical", risk_types=["disaster"]))
    await harness.complete(handle, "screen", SCREEN_OK)
    plan = await harness.task(handle, "assistance_plan")
    snapshot = await harness.snapshot(handle)
    assert snapshot.case.green_channel and snapshot.case.step == Step.VERIFY
    assert any(t.kind == "home_visit" and t.is_open for t in snapshot.tasks)
    assert plan.role == "township_officer"
    await harness.assist(handle)
    await harness.complete(handle, "home_visit", VISIT)
    await harness.complete(handle, "data_comparison", COMPARISON)
    await harness.complete(handle, "township_review", APPROVE)
    await harness.complete(handle, "county_approval", APPROVE)
    await harness.task(handle, "review", skip=timedelta(days=1))
    steps = [e.details["to"] for e in harness.recorder.entries("case.step_changed")]
    assert steps == ["verify", "evaluate"]  # assistance already done when verification ended
    await handle.terminate()


async def test_new_critical_evidence_during_evaluate_returns_to_assist(harness: Harness) -> None:
    hh = household()
    handle = await harness.start(evidence(hh))
    await harness.verify(handle)
    await harness.assist(handle)
    await harness.complete(handle, "review", REVIEW_OK, skip=timedelta(days=1))
    await handle.signal(CaseWorkflow.add_evidence, evidence(hh, level="critical"))
    task = await harness.task(handle, "assistance_plan", skip=timedelta(hours=1))
    assert task.step == "assist"
    snapshot = await harness.snapshot(handle)
    assert snapshot.case.step == Step.ASSIST and snapshot.case.level == "critical"
    await handle.terminate()


async def test_ignored_task_escalates_village_township_county_with_reminder_first(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    task = await harness.task(handle, "screen")
    assert (task.role, task.region_code, task.level) == ("village_cadre", "610327100201", "village")
    await harness.claim(handle, task, "cadre1")
    await harness.env.sleep(timedelta(days=3, hours=1))  # past 150% of the 2-day SLA
    snapshot = await harness.snapshot(handle)
    screen = next(t for t in snapshot.tasks if t.kind == "screen")
    assert (screen.role, screen.region_code, screen.level.value) == ("county_officer", "610327", "county")
    assert screen.escalation_level == 2 and screen.overdue and screen.assignee is None
    names = [n for n in harness.recorder.names() if n.startswith("task.")]
    assert names == ["task.assigned", "task.reminder", "task.overdue", "task.escalated", "task.escalated"]
    levels = [e.details["to"]["level"] for e in harness.recorder.entries("task.escalated")]
    assert levels == ["township", "county"]
    reminder, overdue = (
        harness.recorder.entries("task.reminder")[0],
        harness.recorder.entries("task.overdue")[0],
    )
    assert overdue.at - reminder.at == pytest.approx(timedelta(hours=12), abs=timedelta(minutes=5))
    # The county officer can still complete it: the case moves on.
    await harness.complete(handle, "screen", SCREEN_OK)
    await harness.task(handle, "home_visit")
    await handle.terminate()


async def test_identification_breach_is_recorded(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    await harness.complete(handle, "screen", SCREEN_OK)
    await harness.env.sleep(timedelta(days=16))
    snapshot = await harness.snapshot(handle)
    assert snapshot.case.identification_breached
    assert harness.recorder.entries("case.identification_breached")
    await handle.terminate()


async def test_same_assessment_twice_is_one_piece_of_evidence(harness: Harness) -> None:
    first = evidence(household(), assessment_id="a-1")
    handle = await harness.start(first)
    await handle.signal(CaseWorkflow.add_evidence, first)
    await handle.signal(CaseWorkflow.add_evidence, evidence(first.household_id, assessment_id="a-2"))
    await harness.task(handle, "screen")
    snapshot = await harness.snapshot(handle)
    assert snapshot.evidence_ids == ["a-1", "a-2"]
    assert len(harness.recorder.entries("assessment")) == 2
    await handle.terminate()


async def test_policy_change_does_not_affect_a_running_case(harness: Harness) -> None:
    old = await harness.start(evidence(household()))
    old_task = await harness.task(old, "screen")
    changed = POLICY.workflow.model_copy(
        update={
            "tasks": {
                **POLICY.workflow.tasks,
                "screen": POLICY.workflow.tasks["screen"].model_copy(update={"sla_days": 1}),
            },
            "public_notice_days": 7,
        }
    )
    new = await harness.start(evidence(household()), policy=changed)
    new_task = await harness.task(new, "screen")
    assert old_task.due_at - old_task.created_at == timedelta(days=2)
    assert new_task.due_at - new_task.created_at == timedelta(days=1)
    await harness.complete(old, "screen", SCREEN_OK)
    await harness.complete(old, "home_visit", VISIT)
    await harness.complete(old, "data_comparison", COMPARISON)
    await harness.task(old, "township_review")
    notice = harness.recorder.entries("notice.published")[0]
    assert notice.details["days"] == 5  # the running case keeps the policy it started with
    await old.terminate()
    await new.terminate()


async def test_failed_inspection_reopens_the_case(harness: Harness) -> None:
    hh = household()
    inspection = await harness.env.client.start_workflow(
        InspectionTaskWorkflow.run,
        InspectionInput(
            case_id="C-closed",
            household_id=hh,
            region_code="610327100201",
            close_reason="risk_eliminated",
            round=0,
            policy=POLICY.workflow,
        ),
        id=f"inspection-{hh}",
        task_queue=harness.task_queue,
    )
    task = await harness.task(inspection, "inspection")
    assert (task.role, task.region_code) == ("auditor", "610327")
    await harness.complete(inspection, "inspection", {"result": "fail", "findings": "income overstated"})
    await inspection.result()
    [reopen] = harness.recorder.reopened
    assert reopen.case_id == "C-closed" and reopen.findings == "income overstated"
    # The reopened run resumes the same case in evaluate (what the reopen activity starts).
    reopened = await harness.start(
        evidence(hh), case_id="C-closed", resume_step=Step.EVALUATE, seq_start=40, measures_in_place=1
    )
    snapshot = await harness.snapshot(reopened)
    assert snapshot.case.case_id == "C-closed" and snapshot.case.step == Step.EVALUATE
    await harness.complete(reopened, "review", REVIEW_OK, skip=timedelta(days=1))
    await reopened.terminate()


async def test_measure_tasks_go_to_their_departments(harness: Harness) -> None:
    handle = await harness.start(evidence(household()))
    await harness.verify(handle)
    plan = {
        "measures": [
            PLAN["measures"][0],
            {
                "type": "microcredit",
                "department": "rural_revitalization",
                "description": "loan",
                "amount_cny": 30000,
            },
        ],
        "responsible": PLAN["responsible"],
    }
    await harness.complete(handle, "assistance_plan", plan)
    await harness.task(handle, "measure")
    snapshot = await harness.snapshot(handle)
    measures = [t for t in snapshot.tasks if t.kind == "measure"]
    assert {t.department for t in measures} == {"human_resources", "rural_revitalization"}
    assert all(t.role == "department_officer" and t.region_code == "610327" for t in measures)
    await harness.complete(handle, "measure", MEASURE)
    await handle.terminate()


async def test_sampler_raises_inspection_tasks_for_the_sample(harness: Harness) -> None:
    hh = household()
    harness.recorder.sample = [
        SampledCase(case_id=f"C-{hh}", household_id=hh, region_code="610327100201", close_reason="risk_eliminated")
    ]
    sampler = await harness.env.client.start_workflow(
        InspectionSamplerWorkflow.run,
        SamplerInput(policy=POLICY.workflow, round=3),
        id=f"sampler-{hh}",
        task_queue=harness.task_queue,
    )
    child = harness.env.client.get_workflow_handle(f"inspection-C-{hh}-3")
    task = await harness.task(child, "inspection")
    assert task.case_id == f"C-{hh}" and harness.recorder.sample_requests[0].round == 3
    await harness.complete(child, "inspection", {"result": "pass", "findings": "ok"})
    assert (await child.result())["result"] == "pass"
    assert not harness.recorder.reopened
    await sampler.terminate()


async def test_long_evaluation_continues_as_new_with_its_state(harness: Harness) -> None:
    hh = household()
    first = evidence(hh, assessment_id="a-first")
    handle = await harness.start(first, reviews_per_run=2)
    await harness.verify(handle)
    await harness.assist(handle)
    for _ in range(3):
        await harness.complete(handle, "review", REVIEW_OK, skip=timedelta(days=1))
    latest = harness.env.client.get_workflow_handle(handle.id)
    description = await latest.describe()
    assert description.run_id != handle.result_run_id
    snapshot = await harness.snapshot(latest)
    before = harness.recorder.changes[0].case_id
    assert snapshot.case.case_id == before and snapshot.reviews == 3 and snapshot.stable_months == 3
    assert snapshot.case.step == Step.EVALUATE and snapshot.case.identified_at is not None
    await latest.signal(CaseWorkflow.add_evidence, first)  # still deduplicated after the new run
    assert (await harness.snapshot(latest)).evidence_ids == []
    keys = [e.key for c in harness.recorder.changes for e in c.entries]
    assert len(keys) == len(set(keys))  # event keys stay unique across runs
    assert harness.recorder.names(published_only=False).count("case.opened") == 1
    await latest.terminate()

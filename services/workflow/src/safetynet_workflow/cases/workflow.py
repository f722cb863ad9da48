"""The case workflow: one household case, screen → verify → assist → evaluate → close (DESIGN.md §2).

Each step is its own unit in `cases/steps/`; this class puts them in order and holds the handlers a case
answers (new evidence, objections, the snapshot query). Deterministic code only: every write happens in
the projection activity. The case's policy comes in its input, so a policy change never touches a running
case."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from safetynet_core.vocabulary import CaseEventName, CaseStatus, CloseReason, Step
    from safetynet_workflow.activity_options import call_activity
    from safetynet_workflow.cases.models import (
        CASE_WORKFLOW,
        HOUSEHOLD_FACTS_ACTIVITY,
        CaseInput,
        CaseSnapshot,
        CloseRequest,
        DeathReported,
        Evidence,
        HouseholdFacts,
        MeasureAcknowledged,
        ObjectionRequest,
    )
    from safetynet_workflow.cases.steps.close import CloseStep
    from safetynet_workflow.cases.steps.evaluate import EvaluateStep
    from safetynet_workflow.cases.steps.screen import ScreenStep
    from safetynet_workflow.cases.steps.verify import VerifyStep
    from safetynet_workflow.projection.models import CaseRow, TimelineName
    from safetynet_workflow.tasks.host import rejected


@workflow.defn(name=CASE_WORKFLOW)
class CaseWorkflow(ScreenStep, VerifyStep, EvaluateStep, CloseStep):
    """One household case, from its first flagged assessment to its closure."""

    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        self._init_case(inp)
        self._close_request: CloseRequest | None = None
        self._deaths: set[str] = set()

    # ---------------------------------------------------------------- handlers
    @workflow.signal
    async def add_evidence(self, evidence: Evidence) -> None:
        """A flagged assessment for this household (signal-with-start from the consumer)."""
        if self._case.status is CaseStatus.CLOSED:
            if evidence.assessment_id not in self._seen:
                self._late.append(evidence)
            return
        if self._absorb(evidence):
            await self._emit(self._evidence_entry(evidence))

    @workflow.signal
    async def update_household(self, facts: HouseholdFacts) -> None:
        """The registry's facts changed (a registry record or an approved correction)."""
        if self._case.status is CaseStatus.CLOSED:
            return
        self._learn_household(facts)
        details = {"size": facts.size, "labour_members": facts.labour_members}
        await self._emit(self._entry(TimelineName.HOUSEHOLD_UPDATED, publish=False, details=details))

    @workflow.signal
    async def acknowledge_measure(self, ack: MeasureAcknowledged) -> None:
        """A department's `measure_update` on one of the case's measures."""
        if self._case.status is not CaseStatus.CLOSED:
            await self._acknowledge(ack)

    @workflow.signal
    async def report_death(self, death: DeathReported) -> None:
        """A member died: for a one-person household the county decides on a natural close."""
        if self._case.status is CaseStatus.CLOSED or death.event_id in self._deaths or self._case.household_size != 1:
            return
        self._deaths.add(death.event_id)
        await self._emit(
            self._entry(TimelineName.NATURAL_CLOSE_PROPOSED, publish=False, details=death.model_dump(mode="json"))
        )
        self._side_jobs.append(asyncio.create_task(self._review_natural_close(death)))

    async def _review_natural_close(self, death: DeathReported) -> None:
        subject = {"proposal": "natural", "death_event_id": death.event_id}
        decision = await self._run_task("natural_close_review", self._case.region_code, subject=subject)
        if decision is not None and decision["decision"] == "approve" and self._close_request is None:
            task = next(t for t in self._tasks.values() if t.kind == "natural_close_review" and t.form == decision)
            note = decision.get("reason") or "death of the only member"
            self._close_request = CloseRequest(reason=CloseReason.NATURAL, note=note, username=task.completed_by or "")

    @workflow.update
    async def close_case(self, request: CloseRequest) -> str:
        """The county closes the case (natural or duplicate): its open tasks are cancelled."""
        self._close_request = request
        await self._emit(
            self._entry(
                TimelineName.CLOSE_REQUESTED,
                publish=False,
                details={"by": request.username, **request.model_dump(mode="json", exclude={"username"})},
            )
        )
        return "closing"

    @close_case.validator
    def _validate_close(self, request: CloseRequest) -> None:
        if self._case.status is CaseStatus.CLOSED or self._close_request is not None:
            raise rejected("the case is closed or closing", "Conflict")
        if request.reason not in (CloseReason.NATURAL, CloseReason.DUPLICATE):
            raise rejected(f"a case cannot be closed as {request.reason.value} by hand", "Conflict")

    @workflow.update
    async def file_objection(self, request: ObjectionRequest) -> str:
        """An objection during a public notice: the case goes back to the visit."""
        self._objections.append(request)
        return "accepted"

    @file_objection.validator
    def _validate_objection(self, request: ObjectionRequest) -> None:
        if not self._notice_open:
            raise rejected("no public notice is running for this case", "Conflict")

    @workflow.query
    def snapshot(self) -> CaseSnapshot:
        return CaseSnapshot(
            case=self._case,
            tasks=list(self._tasks.values()),
            evidence_ids=list(self._evidence),
            notice_open=self._notice_open,
            stable_months=self._stable,
            reviews=self._reviews,
        )

    # ---------------------------------------------------------------- the steps in order
    @workflow.run
    async def run(self, inp: CaseInput) -> CaseRow:
        if workflow.info().continued_run_id:  # the starter set them; a continued run inherits stale ones
            self._upsert_search_attributes()
        clock = asyncio.create_task(self._identification_clock())
        opened = self._entry(
            CaseEventName.CASE_OPENED,
            details={
                "reopened": inp.resume_step is not None,
                "level": self._case.level,
                "category": self._case.category,
            },
        )
        if inp.carry is None:  # a continued run's opening is already recorded
            self._deferred.extend([opened, *(self._evidence_entry(e) for e in self._evidence.values())])
        if self._case.household_size is None and workflow.patched("household-facts-on-opening"):
            await self._look_up_household()
        reason, details = await self._run_steps(inp.resume_step or Step.SCREEN)
        await self._close(reason, details)
        await asyncio.gather(clock, *self._side_jobs)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._late:  # flagged after the close: a new case for the household, in a fresh run
            workflow.continue_as_new(
                inp.model_copy(
                    update={
                        "evidence": self._late,
                        "case_id": None,
                        "resume_step": None,
                        "seq_start": 0,
                        "first_lead_at": None,
                        "opened_at": None,
                        "measures_in_place": 0,
                        "has_labour": None,
                        "members": None,
                    }
                )
            )
        return self._case

    async def _look_up_household(self) -> None:
        """The registry's facts, when the household directory did not have them as the case opened."""
        facts = await call_activity(
            HOUSEHOLD_FACTS_ACTIVITY, self._case.household_id, result_type=HouseholdFacts, timeout=timedelta(minutes=1)
        )
        if facts is not None:
            self._learn_household(facts, labour=self._has_labour is None)

    async def _run_steps(self, step: Step) -> tuple[CloseReason, dict[str, Any]]:
        """The steps, unless the county closes the case (natural, duplicate) first: then they stop."""
        steps = asyncio.create_task(self._process(step))
        await workflow.wait_condition(lambda: steps.done() or self._close_request is not None)
        request = self._close_request
        if steps.done() or request is None:
            return steps.result()
        steps.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await steps
        self._notice_open = False
        details: dict[str, Any] = {"by": request.username, "note": request.note}
        if request.duplicate_of:
            details["duplicate_of"] = request.duplicate_of
        return request.reason, details

    async def _process(self, step: Step) -> tuple[CloseReason, dict[str, Any]]:
        """The steps from `step` on (a reopened case resumes at verify or evaluate)."""
        if step is Step.SCREEN:
            dismissed = await self._screen()
            if dismissed is not None:
                return dismissed
            step = Step.VERIFY
        if step in (Step.VERIFY, Step.ASSIST):
            await self._set_step(Step.VERIFY)
            rejection = await self._verify_and_assist()
            if rejection is not None:
                return CloseReason.NOT_ELIGIBLE, rejection
        return await self._evaluate()

    async def _verify_and_assist(self) -> dict[str, Any] | None:
        """Verification, then assistance; on the green channel assistance runs alongside verification.
        Returns why the household is not eligible, or None."""
        assist = await self._start_green_channel() if self._green() else None
        rejection = await self._verify()
        await self._identified()
        if rejection is not None:
            return rejection
        if assist is None or not assist.done():
            await self._set_step(Step.ASSIST)
        await (assist if assist is not None else self._assist())
        return None

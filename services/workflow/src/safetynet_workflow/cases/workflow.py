"""The case workflow: one household case, screen → verify → assist → evaluate → close (DESIGN.md §2).

Each step is its own unit in `cases/steps/`; this class puts them in order and holds the handlers a case
answers (new evidence, objections, the snapshot query). Deterministic code only: every write happens in
the projection activity. The case's policy comes in its input, so a policy change never touches a running
case."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from safetynet_core.vocabulary import CaseEventName, CaseStatus, CloseReason, Step
    from safetynet_workflow.cases.models import CASE_WORKFLOW, CaseInput, CaseSnapshot, Evidence, ObjectionRequest
    from safetynet_workflow.cases.steps.close import CloseStep
    from safetynet_workflow.cases.steps.evaluate import EvaluateStep
    from safetynet_workflow.cases.steps.screen import ScreenStep
    from safetynet_workflow.cases.steps.verify import VerifyStep
    from safetynet_workflow.projection.models import CaseRow
    from safetynet_workflow.tasks.host import rejected


@workflow.defn(name=CASE_WORKFLOW)
class CaseWorkflow(ScreenStep, VerifyStep, EvaluateStep, CloseStep):
    """One household case, from its first flagged assessment to its closure."""

    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        self._init_case(inp)

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
        reason, details = await self._process(inp.resume_step or Step.SCREEN)
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

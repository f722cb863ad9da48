"""Step 4, evaluate (评估销): a monthly review (village) records income and the guarantees; when the
policy's elimination conditions hold, elimination runs: visit → notice → township check → county
decision. New critical evidence sends the case back to assistance; households without labour capacity
stay under safety-net support."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from safetynet_core.vocabulary import CloseReason, Step
    from safetynet_workflow.cases.steps.assist import AssistStep
    from safetynet_workflow.projection.models import TimelineName

MONTH_DAYS = 30


class EvaluateStep(AssistStep):
    """Evaluation, which goes back to the assist step when new critical evidence arrives."""

    async def _evaluate(self) -> tuple[CloseReason, dict[str, Any]]:
        """Monthly reviews until the elimination conditions hold and the elimination is decided."""
        await self._set_step(Step.EVALUATE)
        await self._flush()  # a reopened case resumes here: record its opening before the first wait
        every = timedelta(seconds=self._policy.days(self._policy.review_every_days))
        while True:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._reassist, timeout=every)
            if self._reassist:
                self._reassist = False
                await self._set_step(Step.ASSIST, reason="new critical evidence")
                await self._assist()
                await self._set_step(Step.EVALUATE)
                self._stable = 0
                continue
            review = await self._run_task("review", self._case.region_code, assignee=self._case.responsible)
            if review is None:
                continue
            self._record_review(review)
            if self._eliminable() and await self._eliminate():
                return CloseReason.RISK_ELIMINATED, {"reviews": self._reviews, "measures": self._measures}
            await self._note_safety_net()
            if self._run_reviews >= self._inp.reviews_per_run:
                await self._continue_evaluating()

    async def _continue_evaluating(self) -> None:
        """Between two reviews nothing is open: start a fresh run carrying the case (bounded history)."""
        await asyncio.gather(*self._side_jobs)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            self._inp.model_copy(
                update={
                    "carry": self._case,
                    "case_id": self._case.case_id,
                    "resume_step": Step.EVALUATE,
                    "seq_start": self._seq,
                    "stable_months": self._stable,
                    "reviews": self._reviews,
                    "evidence": [],
                    "evidence_ids": sorted(self._seen),
                    "measures_in_place": self._measures,
                    "members": self._members,
                    "has_labour": self._has_labour,
                    "opened_at": self._case.opened_at,
                    "grid_id": self._grid_id,
                }
            )
        )

    def _record_review(self, review: dict[str, Any]) -> None:
        self._reviews += 1
        self._run_reviews += 1
        if review.get("members"):
            self._members = self._case.household_size = review["members"]
        members = self._members or 1
        above = review["annual_net_income_cny"] / members > self._inp.monitoring_line_cny
        self._secure = all(review["guarantees"].values()) and review.get("rigid_costs_resolved", True)
        self._stable = self._stable + 1 if above and self._secure else 0

    def _eliminable(self) -> bool:
        rules = self._policy.elimination
        monitored_days = (workflow.now() - self._case.opened_at).total_seconds() / self._policy.day_seconds
        return (
            monitored_days >= rules.min_monitored_months * MONTH_DAYS
            and self._measures >= rules.min_measures
            and self._stable >= rules.stable_income_months
            and self._secure
            and (self._labour() is True or not rules.requires_labour_capacity)
        )

    async def _note_safety_net(self) -> None:
        """Households without labour capacity stay under safety-net support (recorded once)."""
        no_labour = self._labour() is False
        if self._policy.elimination.requires_labour_capacity and no_labour and not self._safety_net_noted:
            self._safety_net_noted = True
            await self._emit(
                self._entry(
                    TimelineName.SAFETY_NET_SUPPORT,
                    publish=False,
                    details={"reason": "no labour capacity: not eliminated"},
                )
            )

    async def _eliminate(self) -> bool:
        """Elimination visit → notice (objections back to the visit) → township check → county decision."""
        while True:
            if await self._run_task("elimination_visit", self._case.region_code) is None:
                return False
            if not await self._notice("elimination"):
                break
        for kind in ("elimination_township_check", "elimination_county_decision"):
            form = await self._run_task(kind, self._case.region_code)
            if form is None or form["decision"] == "reject":
                self._stable = 0
                await self._emit(
                    self._entry(
                        TimelineName.ELIMINATION_REJECTED,
                        publish=False,
                        details={"by": kind, "reason": (form or {}).get("reason")},
                    )
                )
                return False
        return True

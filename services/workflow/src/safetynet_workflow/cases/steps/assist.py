"""Step 3, assist (精准帮): the township's assistance plan, then one `measure` task per measure for its
department. On the green channel it runs alongside verification."""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from safetynet_workflow.cases.base import CaseBase
    from safetynet_workflow.cases.models import MeasureAcknowledged
    from safetynet_workflow.projection.models import TaskStatus, TimelineName


class AssistStep(CaseBase):
    def _green(self) -> bool:
        """Disasters and critical cases take the green channel: assistance starts before verification ends."""
        policy, case = self._policy, self._case
        return case.level in policy.green_channel_levels or bool(
            set(case.risk_types) & set(policy.green_channel_risk_types)
        )

    async def _start_green_channel(self) -> asyncio.Task[None]:
        self._case.green_channel = True
        await self._emit(
            self._entry(
                TimelineName.GREEN_CHANNEL,
                publish=False,
                details={"level": self._case.level, "risk_types": self._case.risk_types},
            )
        )
        assist = asyncio.create_task(self._assist())
        self._side_jobs.append(assist)
        return assist

    async def _assist(self) -> None:
        """The assistance plan, then one task per measure for its department; when the departments refuse
        every measure of a plan, the township plans again."""
        while True:
            plan = await self._run_task("assistance_plan", self._case.region_code)
            if plan is None:
                return
            self._case.responsible = plan["responsible"]
            named = {"responsible": plan["responsible"]}
            await self._emit(self._entry(TimelineName.RESPONSIBLE_NAMED, publish=False, details=named))
            refused_before = self._refused
            started = await asyncio.gather(
                *(
                    self._run_task("measure", self._case.region_code, department=m["department"], subject=m)
                    for m in plan["measures"]
                )
            )
            in_place = sum(1 for form in started if form is not None)
            self._measures += in_place
            if in_place or self._refused == refused_before:
                return

    async def _acknowledge(self, ack: MeasureAcknowledged) -> None:
        """A department's answer on its measure task (matched by measure type, department and member):
        started or done completes the task, refused cancels it with the reason."""
        if ack.event_id in self._acknowledged:
            return
        self._acknowledged.add(ack.event_id)
        task = next(
            (
                t
                for t in self._tasks.values()
                if t.kind == "measure" and t.is_open and t.department == ack.department
                and t.subject.get("type") == ack.measure_type
                and (not ack.member_id or t.subject.get("member_id") in (None, ack.member_id))
            ),
            None,
        )  # fmt: skip
        details = ack.model_dump(mode="json", exclude={"case_id"})
        if task is None:  # e.g. "done" after "started": on the timeline only
            await self._emit(self._entry(TimelineName.MEASURE_ACKNOWLEDGED, publish=False, details=details))
            return
        if ack.status == "refused":
            self._refused += 1
            task.status = TaskStatus.CANCELLED
            await self._emit(self._entry(TimelineName.MEASURE_REFUSED, task=task, publish=False, details=details),
                             tasks=[task])  # fmt: skip
            return
        form = {
            "started_on": ack.occurred_at.date().isoformat(),
            "notes": ack.note or f"{ack.status} ({ack.department})",
        }
        acknowledged = self._entry(TimelineName.MEASURE_ACKNOWLEDGED, task=task, publish=False, details=details)
        await self._finish(task, form, f"department:{ack.department}", acknowledged)

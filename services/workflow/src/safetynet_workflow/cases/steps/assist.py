"""Step 3, assist (精准帮): the township's assistance plan, then one `measure` task per measure for its
department. On the green channel it runs alongside verification."""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from safetynet_workflow.cases.base import CaseBase
    from safetynet_workflow.projection.models import TimelineName


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
        """The assistance plan, then one task per measure for its department."""
        plan = await self._run_task("assistance_plan", self._case.region_code)
        if plan is None:
            return
        self._case.responsible = plan["responsible"]
        await self._emit(
            self._entry(TimelineName.RESPONSIBLE_NAMED, publish=False, details={"responsible": plan["responsible"]})
        )
        started = await asyncio.gather(
            *(
                self._run_task("measure", self._case.region_code, department=m["department"], subject=m)
                for m in plan["measures"]
            )
        )
        self._measures += sum(1 for form in started if form is not None)

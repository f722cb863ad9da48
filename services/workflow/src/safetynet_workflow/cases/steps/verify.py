"""Step 2, verify (从严核): the home visit and the department data comparison side by side (inconsistencies
the comparison finds get a follow-up task on the case), the public notice (an objection sends the case
back to the visit), then township review and county approval."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from safetynet_workflow.cases.base import CaseBase


class VerifyStep(CaseBase):
    async def _verify(self) -> dict[str, Any] | None:
        """Verification; returns why the household is not eligible, or None when it is included."""
        region = self._case.region_code
        comparison = asyncio.create_task(self._compare(region))
        self._side_jobs.append(comparison)  # awaited by run() even when the visit ends the case early
        while True:
            visit = await self._run_task("home_visit", region)
            if visit is None:
                return {"reason": "cancelled"}
            self._note_visit(visit)
            if not await self._notice("inclusion"):
                break
        await comparison
        for kind in ("township_review", "county_approval"):
            form = await self._run_task(kind, region)
            if form is None or form["decision"] == "reject":
                return {"rejected_by": kind, "reason": (form or {}).get("reason")}
            if form.get("category"):
                self._case.category = form["category"]
            if form.get("risk_types"):
                self._case.risk_types = sorted(form["risk_types"])
        return None

    async def _compare(self, region: str) -> None:
        """Department data comparison, alongside the home visit; inconsistencies it finds are followed up
        (a village task) before the township reviews the case."""
        comparison = await self._run_task("data_comparison", region)
        if comparison is not None and not comparison["consistent"]:
            await self._run_task("comparison_followup", region, subject={"found": comparison.get("notes", "")})

    def _note_visit(self, visit: dict[str, Any]) -> None:
        """What the visit found: the verified income; the household size and labour capacity only where the
        visitors corrected them explicitly (who was at home is not the household size)."""
        case = self._case
        case.verified_income_cny = visit["verified_annual_income_cny"]
        if visit.get("members"):
            self._members = case.household_size = visit["members"]
        if visit.get("labour_capacity"):
            self._has_labour = case.labour = visit["labour_capacity"] != "none"

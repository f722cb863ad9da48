"""What every step of a case shares: the case's state (from its input), how a change of step, a public
notice and the identification clock are recorded, and how evidence joins the case. The steps
(`cases/steps/`) build on it; `cases/workflow.py` puts them in order. Deterministic code only."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from safetynet_core.contracts import ASSESSMENT_LEVELS
    from safetynet_core.vocabulary import STATUS_OF_STEP, CaseEventName, CaseStatus, Step
    from safetynet_workflow.cases.models import (
        CASE_STATUS,
        CASE_STEP,
        CaseInput,
        Evidence,
        HouseholdFacts,
        ObjectionRequest,
    )
    from safetynet_workflow.projection.models import CaseRow, Entry, RecordRef, TimelineName
    from safetynet_workflow.tasks.host import TaskHost


class CaseBase(TaskHost):
    """The state of one household case and the records every step makes."""

    _inp: CaseInput
    _case: CaseRow

    def _init_case(self, inp: CaseInput) -> None:
        self._init_host(inp.policy, inp.seq_start)
        self._inp = inp
        now = workflow.now()
        first_lead = inp.first_lead_at or min((e.assessed_at for e in inp.evidence), default=now)
        identifying = inp.resume_step in (None, Step.SCREEN, Step.VERIFY)
        step = inp.resume_step or Step.SCREEN
        self._case = CaseRow(
            case_id=inp.case_id or f"C{workflow.uuid4().hex[:20]}",
            workflow_id=workflow.info().workflow_id,
            household_id=inp.household_id,
            region_code=inp.region_code,
            status=STATUS_OF_STEP[step],
            step=step,
            policy_version=inp.policy_version,
            opened_at=inp.opened_at or now,
            step_since=now,
            identification_due_at=(
                first_lead + timedelta(seconds=inp.policy.days(inp.policy.identification_days)) if identifying else None
            ),
        )
        if inp.carry is not None:
            self._case = inp.carry.model_copy()
        self._first_lead: datetime = first_lead
        self._has_labour = inp.has_labour
        self._members = inp.members
        if inp.household is not None and inp.carry is None:
            self._learn_household(inp.household, labour=inp.has_labour is None)
        self._case.labour = self._has_labour
        self._case.responsible = self._case.responsible or inp.responsible
        self._measures = inp.measures_in_place
        self._evidence: dict[str, Evidence] = {}
        self._seen = set(inp.evidence_ids)
        self._run_reviews = 0
        self._late: list[Evidence] = []
        self._objections: list[ObjectionRequest] = []
        self._notice_open = False
        self._reassist = False
        self._stable = inp.stable_months
        self._reviews = inp.reviews
        self._side_jobs: list[asyncio.Task[None]] = []
        self._safety_net_noted = False
        self._secure = False  # the last review found every guarantee secure
        self._acknowledged: set[str] = set()  # departments' measure updates already applied
        self._refused = 0  # measures the departments refused
        self._grid_id = inp.grid_id
        for evidence in inp.evidence:
            self._absorb(evidence)

    def _ref(self) -> RecordRef:
        c = self._case
        return RecordRef(
            case_id=c.case_id,
            household_id=c.household_id,
            region_code=c.region_code,
            step=c.step.value,
            status=c.status.value,
            close_reason=c.close_reason,
        )

    def _case_row(self) -> CaseRow | None:
        return self._case.model_copy()

    def _grid(self) -> str | None:
        return self._grid_id

    def _risk_types(self) -> list[str]:
        return list(self._case.risk_types)

    # ---------------------------------------------------------------- the household
    def _learn_household(self, facts: HouseholdFacts, *, labour: bool = True) -> None:
        """The registry's facts (or a correction of them): household size, who can work, the head."""
        case = self._case
        case.household_size, case.labour_members, case.head_name = facts.size, facts.labour_members, facts.head_name
        self._members = facts.size
        if labour:
            self._has_labour = case.labour = facts.has_labour

    # ---------------------------------------------------------------- evidence
    def _absorb(self, evidence: Evidence) -> bool:
        """Join an assessment as evidence (once); it may raise the case's severity."""
        if evidence.assessment_id in self._seen:
            return False
        self._seen.add(evidence.assessment_id)
        self._evidence[evidence.assessment_id] = evidence
        self._grid_id = evidence.grid_id or self._grid_id
        case = self._case
        if evidence.level in ASSESSMENT_LEVELS and ASSESSMENT_LEVELS.index(evidence.level) >= ASSESSMENT_LEVELS.index(
            case.level or "none"
        ):
            case.level, case.score = evidence.level, max(evidence.score, case.score)
        case.category = evidence.category or case.category
        case.risk_types = sorted(set(case.risk_types) | set(evidence.risk_types))
        if self._has_labour is None and "labour_shortage" in evidence.risk_types:
            self._has_labour = case.labour = False
        if case.step is Step.EVALUATE and evidence.level in self._policy.green_channel_levels:
            self._reassist = True
        return True

    def _evidence_entry(self, evidence: Evidence) -> Entry:
        return self._entry(TimelineName.ASSESSMENT, publish=False, details=evidence.model_dump(mode="json"))

    # ---------------------------------------------------------------- steps, notices, the clock
    async def _set_step(self, step: Step, **details: Any) -> None:
        case = self._case
        if case.step is step:
            return
        now = workflow.now()
        entry = self._entry(
            CaseEventName.CASE_STEP_CHANGED,
            details={
                "from": case.step.value,
                "to": step.value,
                "seconds_in_step": (now - case.step_since).total_seconds(),
                "category": case.category,
                "risk_types": list(case.risk_types),
                **details,
            },
        )
        case.step, case.status, case.step_since = step, STATUS_OF_STEP[step], now
        self._upsert_search_attributes()
        await self._emit(entry)

    def _upsert_search_attributes(self) -> None:
        if self._inp.search_attributes:
            workflow.upsert_search_attributes(
                [CASE_STEP.value_set(self._case.step.value), CASE_STATUS.value_set(self._case.status.value)]
            )

    async def _notice(self, purpose: str) -> bool:
        """A public notice of `public_notice_days`; True when an objection sent the case back to the visit."""
        days = self._policy.public_notice_days
        self._objections.clear()
        self._notice_open = True
        self._case.notice_until = workflow.now() + timedelta(seconds=self._policy.days(days))
        await self._emit(
            self._entry(
                CaseEventName.NOTICE_PUBLISHED,
                details={
                    "purpose": purpose,
                    "until": self._case.notice_until.isoformat(),
                    "days": days,
                    "category": self._case.category,
                },
            )
        )
        objected = True
        try:
            await workflow.wait_condition(
                lambda: bool(self._objections), timeout=timedelta(seconds=self._policy.days(days))
            )
        except TimeoutError:
            objected = False
        self._notice_open = False
        self._case.notice_until = None
        details = {"purpose": purpose, "objections": [o.model_dump() for o in self._objections]}
        name = TimelineName.NOTICE_OBJECTED if objected else TimelineName.NOTICE_ENDED
        await self._emit(self._entry(name, publish=False, details=details))
        return objected

    async def _identified(self) -> None:
        """The identification decision is made (dismissal or county decision): stop the 15-day clock."""
        case = self._case
        if case.identified_at is not None or case.identification_due_at is None:
            return
        case.identified_at = workflow.now()
        days = (case.identified_at - self._first_lead).total_seconds() / self._policy.day_seconds
        await self._emit(
            self._entry(
                TimelineName.IDENTIFIED,
                publish=False,
                details={"days": days, "breached": case.identification_breached},
            )
        )

    async def _identification_clock(self) -> None:
        case = self._case
        if case.identification_due_at is None:
            return
        remaining = (case.identification_due_at - workflow.now()).total_seconds()
        try:
            await workflow.wait_condition(
                lambda: case.identified_at is not None or case.status is CaseStatus.CLOSED,
                timeout=timedelta(seconds=max(remaining, 1.0)),
            )
        except TimeoutError:
            case.identification_breached = True
            await self._emit(
                self._entry(
                    TimelineName.IDENTIFICATION_BREACHED,
                    publish=False,
                    details={"due_at": case.identification_due_at.isoformat()},
                )
            )

"""The case workflow (five steps), the per-case inspection task workflow and the inspection sampler.

Deterministic code only: every write (projection, case events, reopening) happens in activities.
Human tasks are Temporal updates whose validators reject bad forms before anything is recorded;
each task has durable timers for its reminder (75% of SLA), overdue + escalation (100%) and second
escalation (150%). The workflow's policy comes in its input, so a policy change never touches a
running case."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from safetynet_core.policy.workflow import REGION_PREFIX_LENGTH, RegionLevel, WorkflowPolicy
    from safetynet_workflow.forms import FormInvalid, validate_form
    from safetynet_workflow.models import (
        CASE_WORKFLOW,
        INSPECTION_SAMPLER_WORKFLOW,
        INSPECTION_TASK_WORKFLOW,
        STATUS_OF_STEP,
        CaseInput,
        CaseRow,
        CaseSnapshot,
        CaseStatus,
        Change,
        ClaimRequest,
        CloseReason,
        CompleteRequest,
        Entry,
        Evidence,
        InspectionInput,
        ObjectionRequest,
        ReopenRequest,
        SampledCase,
        SampleRequest,
        SamplerInput,
        Step,
        TaskState,
        TaskStatus,
    )

PROJECT_ACTIVITY = "project"
REOPEN_ACTIVITY = "reopen_case"
SAMPLE_ACTIVITY = "sample_closed_cases"
ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Projection writes must land eventually: retry forever with capped backoff.
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1)
)
CASE_STEP = SearchAttributeKey.for_keyword("CaseStep")
CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
LEVELS = ["none", "low", "medium", "high", "critical"]
DAY = 86400.0
MONTH_DAYS = 30


def region_at(region_code: str, level: RegionLevel) -> str:
    """The region prefix of `region_code` at `level` (village 12, township 9, county 6, city 4 digits)."""
    return region_code[: REGION_PREFIX_LENGTH[level]]


def _rejected(message: str, type_: str, details: Any = None) -> ApplicationError:
    return ApplicationError(message, details, type=type_, non_retryable=True)


class TaskHost:
    """Human tasks for a workflow: creation, update handlers (claim/complete), timers, escalation."""

    _policy: WorkflowPolicy
    _tasks: dict[str, TaskState]
    _seq: int
    _task_no: int
    _has_labour: bool | None

    def _init_host(self, policy: WorkflowPolicy, seq_start: int) -> None:
        self._policy = policy
        self._tasks = {}
        self._seq = seq_start
        self._task_no = 0
        self._has_labour = None
        self._deferred: list[Entry] = []

    # What every change names: overridden by the concrete workflows.
    def _ref(self) -> dict[str, Any]:
        raise NotImplementedError

    def _case_row(self) -> CaseRow | None:
        return None

    def _ref_for(self, tasks: list[TaskState] | tuple[TaskState, ...]) -> dict[str, Any]:
        """What a change about `tasks` names (a workflow hosting many households' tasks overrides it)."""
        return self._ref()

    def _key_prefix(self) -> str:
        return str(self._ref()["case_id"])

    def _task_id(self, kind: str) -> str:
        return f"{self._ref()['case_id']}-{kind}-{self._task_no}"

    def _grid(self) -> str | None:
        """The household's grid, if known: tasks at the policy's grid levels go to its grid worker."""
        return None

    def _route(self, task: TaskState) -> None:
        """Grid routing: a task at a grid level goes to the household's grid worker first."""
        grid, routing = self._grid(), self._policy.grids
        if grid and task.level.value in routing.first_levels:
            task.role, task.grid_id = routing.role, grid
        elif task.role == routing.role:  # a grid worker's task for a household without a grid
            task.role = self._policy.escalation.role_by_level.get(task.level, task.role)

    def _entry(
        self,
        name: str,
        *,
        task: TaskState | None = None,
        details: dict[str, Any] | None = None,
        publish: bool = True,
    ) -> Entry:
        self._seq += 1
        return Entry(
            key=f"{self._key_prefix()}:{self._seq}",
            name=name,
            at=workflow.now(),
            task_id=task.task_id if task else None,
            details=details or {},
            publish=publish,
        )

    async def _emit(self, *entries: Entry, tasks: list[TaskState] | tuple[TaskState, ...] = ()) -> None:
        """Write the projection and publish the entries (one idempotent local activity call; deferred
        entries ride along, so opening a case and assigning its first task is one write)."""
        self._seq += 1
        deferred, self._deferred = self._deferred, []
        change = Change(
            version=self._seq,
            case=self._case_row(),
            tasks=[t.model_copy() for t in tasks],
            entries=[*deferred, *entries],
            **self._ref_for(tasks),
        )
        await workflow.execute_local_activity(
            PROJECT_ACTIVITY, change, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
        )

    async def _flush(self) -> None:
        if self._deferred:
            await self._emit()

    async def _run_task(
        self, kind: str, region: str, *, department: str | None = None, subject: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Create a task, watch its deadlines, return its form (None when the task was cancelled)."""
        definition = self._policy.task(kind)
        ref = self._ref()
        now = workflow.now()
        self._task_no += 1
        sla = definition.sla_days * DAY
        task = TaskState(
            task_id=self._task_id(kind),
            case_id=ref["case_id"],
            workflow_id=workflow.info().workflow_id,
            household_id=ref["household_id"],
            kind=kind,
            step=definition.step,
            role=definition.role,
            level=definition.level,
            region_code=region_at(region, definition.level),
            base_region=region,
            department=department,
            created_at=now,
            due_at=now + timedelta(seconds=sla),
            sla_seconds=sla,
            subject=subject or {},
        )
        self._route(task)
        self._tasks[task.task_id] = task
        await self._emit(
            self._entry(
                "task.assigned",
                task=task,
                details={"title_zh": definition.title_zh, "title_en": definition.title_en},
            ),
            tasks=[task],
        )
        await self._watch(task)
        return task.form if task.status is TaskStatus.DONE else None

    async def _watch(self, task: TaskState) -> None:
        """Durable deadline timers; recomputed each round from the task's SLA (so an extension applies)."""
        escalation = self._policy.escalation
        phases = [escalation.reminder_at, escalation.overdue_at, escalation.second_escalation_at]
        while task.is_open:
            if task.phases_fired >= len(phases):
                await workflow.wait_condition(lambda: not task.is_open)
                return
            sla = task.sla_seconds

            def settled(current: float = sla) -> bool:
                return not task.is_open or task.sla_seconds != current

            fire_at = task.created_at + timedelta(seconds=sla * phases[task.phases_fired])
            remaining = (fire_at - workflow.now()).total_seconds()
            if remaining > 0:
                try:
                    await workflow.wait_condition(settled, timeout=timedelta(seconds=remaining))
                    continue
                except TimeoutError:
                    pass
            await self._fire_phase(task)

    async def _fire_phase(self, task: TaskState) -> None:
        phase = task.phases_fired
        task.phases_fired += 1
        if phase == 0:
            await self._emit(
                self._entry("task.reminder", task=task, details={"due_at": task.due_at.isoformat()}),
                tasks=[task],
            )
            return
        entries = []
        if phase == 1:
            task.overdue = True
            entries.append(self._entry("task.overdue", task=task, details={"due_at": task.due_at.isoformat()}))
        entries.append(self._escalate(task))
        await self._emit(*entries, tasks=[task])

    def _escalate(self, task: TaskState) -> Entry:
        """One level up the ladder: the task's visible level, role and region change, and it is recorded."""
        ladder = self._policy.escalation.ladder
        before = {"level": task.level.value, "role": task.role, "region_code": task.region_code}
        position = ladder.index(task.level) if task.level in ladder else len(ladder) - 1
        if task.grid_id and task.role == self._policy.grids.role:  # grid worker → the level's usual role
            task.role = self._policy.escalation.role_by_level.get(task.level, task.role)
            task.status, task.assignee = TaskStatus.OPEN, None
        elif position + 1 < len(ladder):
            task.level = ladder[position + 1]
            task.role = self._policy.escalation.role_by_level.get(task.level, task.role)
            task.region_code = region_at(task.base_region, task.level)
            task.status, task.assignee = TaskStatus.OPEN, None
        task.escalation_level += 1
        after = {"level": task.level.value, "role": task.role, "region_code": task.region_code}
        return self._entry(
            "task.escalated",
            task=task,
            details={"from": before, "to": after, "escalation_level": task.escalation_level},
        )

    def _open_task(self, task_id: str) -> TaskState:
        task = self._tasks.get(task_id)
        if task is None:
            raise _rejected(f"no task {task_id} in this workflow", "NotFound")
        if not task.is_open:
            raise _rejected(f"task {task_id} is {task.status.value}", "Conflict")
        return task

    def _check_claim(self, task: TaskState, username: str) -> None:
        if task.status is TaskStatus.CLAIMED and task.assignee != username:
            raise _rejected(f"task {task.task_id} is claimed by someone else", "Conflict")

    @workflow.update
    async def claim_task(self, request: ClaimRequest) -> TaskState:
        """Claim an open task (the projection then shows the assignee)."""
        task = self._tasks[request.task_id]
        task.status, task.assignee = TaskStatus.CLAIMED, request.username
        await self._emit(
            self._entry("task.claimed", task=task, publish=False, details={"by": request.username}),
            tasks=[task],
        )
        return task

    @claim_task.validator
    def _validate_claim(self, request: ClaimRequest) -> None:
        self._check_claim(self._open_task(request.task_id), request.username)

    @workflow.update
    async def complete_task(self, request: CompleteRequest) -> TaskState:
        """Complete a task with its form; the validator has already checked the form."""
        task = self._tasks[request.task_id]
        form = validate_form(task.kind, request.form, self._policy, has_labour=self._labour())
        task.form = form.model_dump(mode="json")
        task.status, task.completed_by, task.completed_at = TaskStatus.DONE, request.username, workflow.now()
        task.assignee = task.assignee or request.username
        await self._emit(
            self._entry(
                "task.completed",
                task=task,
                publish=False,
                details={"by": request.username, "form": task.form},
            ),
            tasks=[task],
        )
        return task

    @complete_task.validator
    def _validate_complete(self, request: CompleteRequest) -> None:
        task = self._open_task(request.task_id)
        self._check_claim(task, request.username)
        try:
            validate_form(task.kind, request.form, self._policy, has_labour=self._labour())
        except FormInvalid as exc:
            raise _rejected(str(exc), "FormInvalid", exc.errors) from None

    @workflow.query
    def task_list(self) -> list[TaskState]:
        return list(self._tasks.values())

    def _labour(self) -> bool:
        return True if self._has_labour is None else self._has_labour

    def _cancel_open_tasks(self) -> list[TaskState]:
        cancelled = [t for t in self._tasks.values() if t.is_open]
        for task in cancelled:
            task.status = TaskStatus.CANCELLED
        return cancelled


@workflow.defn(name=CASE_WORKFLOW)
class CaseWorkflow(TaskHost):
    """One household case: screen → verify → assist → evaluate → close (see DESIGN.md §2)."""

    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
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
            identification_due_at=first_lead + timedelta(days=inp.policy.identification_days) if identifying else None,
            labour=inp.has_labour,
        )
        if inp.carry is not None:
            self._case = inp.carry.model_copy()
        self._first_lead: datetime = first_lead
        self._has_labour = inp.has_labour
        self._members = inp.members
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
        self._grid_id = inp.grid_id
        for evidence in inp.evidence:
            self._absorb(evidence)

    def _ref(self) -> dict[str, Any]:
        c = self._case
        return {
            "case_id": c.case_id,
            "household_id": c.household_id,
            "region_code": c.region_code,
            "step": c.step.value,
            "status": c.status.value,
            "close_reason": c.close_reason,
        }

    def _case_row(self) -> CaseRow | None:
        return self._case.model_copy()

    def _grid(self) -> str | None:
        return self._grid_id

    # ---------------------------------------------------------------- evidence and handlers
    def _absorb(self, evidence: Evidence) -> bool:
        """Join an assessment as evidence (once); it may raise the case's severity."""
        if evidence.assessment_id in self._seen:
            return False
        self._seen.add(evidence.assessment_id)
        self._evidence[evidence.assessment_id] = evidence
        self._grid_id = evidence.grid_id or self._grid_id
        case = self._case
        if evidence.level in LEVELS and LEVELS.index(evidence.level) >= LEVELS.index(case.level or "none"):
            case.level, case.score = evidence.level, max(evidence.score, case.score)
        case.category = evidence.category or case.category
        case.risk_types = sorted(set(case.risk_types) | set(evidence.risk_types))
        if self._has_labour is None and "labour_shortage" in evidence.risk_types:
            self._has_labour = False
        if case.step is Step.EVALUATE and evidence.level in self._policy.green_channel_levels:
            self._reassist = True
        return True

    def _evidence_entry(self, evidence: Evidence) -> Entry:
        return self._entry("assessment", publish=False, details=evidence.model_dump(mode="json"))

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
            raise _rejected("no public notice is running for this case", "Conflict")

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

    # ---------------------------------------------------------------- the steps
    @workflow.run
    async def run(self, inp: CaseInput) -> CaseRow:
        if workflow.info().continued_run_id:  # the starter set them; a continued run inherits stale ones
            self._upsert_search_attributes()
        clock = asyncio.create_task(self._identification_clock())
        opened = self._entry(
            "case.opened",
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
        if step is Step.SCREEN:
            form = await self._run_task("screen", self._case.region_code)
            if form is None or form["decision"] == "dismiss":
                await self._identified()
                return CloseReason.DISMISSED, {"reason": (form or {}).get("reason")}
            step = Step.VERIFY
        if step in (Step.VERIFY, Step.ASSIST):
            await self._set_step(Step.VERIFY)
            rejection = await self._verify_and_assist()
            if rejection is not None:
                return CloseReason.NOT_ELIGIBLE, rejection
        return await self._evaluate()

    async def _set_step(self, step: Step, **details: Any) -> None:
        case = self._case
        if case.step is step:
            return
        now = workflow.now()
        entry = self._entry(
            "case.step_changed",
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

    def _green(self) -> bool:
        policy, case = self._policy, self._case
        return case.level in policy.green_channel_levels or bool(
            set(case.risk_types) & set(policy.green_channel_risk_types)
        )

    async def _verify_and_assist(self) -> dict[str, Any] | None:
        """Verification; on the green channel assistance runs alongside it. Returns a rejection or None."""
        assist: asyncio.Task[None] | None = None
        if self._green():
            self._case.green_channel = True
            await self._emit(
                self._entry(
                    "case.green_channel",
                    publish=False,
                    details={"level": self._case.level, "risk_types": self._case.risk_types},
                )
            )
            assist = asyncio.create_task(self._assist())
            self._side_jobs.append(assist)
        rejection = await self._verify()
        await self._identified()
        if rejection is not None:
            return rejection
        if assist is None or not assist.done():
            await self._set_step(Step.ASSIST)
        await (assist if assist is not None else self._assist())
        return None

    async def _verify(self) -> dict[str, Any] | None:
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
        """Department data comparison, alongside the home visit (its form is recorded on the task)."""
        await self._run_task("data_comparison", region)

    def _note_visit(self, visit: dict[str, Any]) -> None:
        self._members = visit.get("members") or visit.get("members_present") or self._members
        if visit.get("labour_capacity"):
            self._has_labour = visit["labour_capacity"] != "none"
            self._case.labour = self._has_labour

    async def _notice(self, purpose: str) -> bool:
        """A public notice of `public_notice_days`; True when an objection sent the case back to the visit."""
        days = self._policy.public_notice_days
        self._objections.clear()
        self._notice_open = True
        self._case.notice_until = workflow.now() + timedelta(days=days)
        await self._emit(
            self._entry(
                "notice.published",
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
            await workflow.wait_condition(lambda: bool(self._objections), timeout=timedelta(days=days))
        except TimeoutError:
            objected = False
        self._notice_open = False
        self._case.notice_until = None
        details = {"purpose": purpose, "objections": [o.model_dump() for o in self._objections]}
        await self._emit(self._entry("notice.objected" if objected else "notice.ended", publish=False, details=details))
        return objected

    async def _assist(self) -> None:
        """The assistance plan, then one task per measure for its department."""
        plan = await self._run_task("assistance_plan", self._case.region_code)
        if plan is None:
            return
        started = await asyncio.gather(
            *(
                self._run_task("measure", self._case.region_code, department=m["department"], subject=m)
                for m in plan["measures"]
            )
        )
        self._measures += sum(1 for form in started if form is not None)

    async def _evaluate(self) -> tuple[CloseReason, dict[str, Any]]:
        """Monthly reviews until the elimination conditions hold and the elimination is decided."""
        await self._set_step(Step.EVALUATE)
        await self._flush()  # a reopened case resumes here: record its opening before the first wait
        every = timedelta(days=self._policy.review_every_days)
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
            review = await self._run_task("review", self._case.region_code)
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
        members = review.get("members") or self._members or 1
        above = review["annual_net_income_cny"] / members > self._inp.monitoring_line_cny
        secure = review["guarantees_secure"] and review.get("rigid_costs_resolved", True)
        self._stable = self._stable + 1 if above and secure else 0

    def _eliminable(self) -> bool:
        rules = self._policy.elimination
        monitored_days = (workflow.now() - self._case.opened_at).total_seconds() / DAY
        return (
            monitored_days >= rules.min_monitored_months * MONTH_DAYS
            and self._measures >= rules.min_measures
            and self._stable >= rules.stable_income_months
            and (self._labour() or not rules.requires_labour_capacity)
        )

    async def _note_safety_net(self) -> None:
        """Households without labour capacity stay under safety-net support (recorded once)."""
        if self._policy.elimination.requires_labour_capacity and not self._labour() and not self._safety_net_noted:
            self._safety_net_noted = True
            await self._emit(
                self._entry(
                    "case.safety_net_support",
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
                        "case.elimination_rejected",
                        publish=False,
                        details={"by": kind, "reason": (form or {}).get("reason")},
                    )
                )
                return False
        return True

    async def _identified(self) -> None:
        """The identification decision is made (dismissal or county decision): stop the 15-day clock."""
        case = self._case
        if case.identified_at is not None or case.identification_due_at is None:
            return
        case.identified_at = workflow.now()
        days = (case.identified_at - self._first_lead).total_seconds() / DAY
        await self._emit(
            self._entry(
                "case.identified",
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
                    "case.identification_breached",
                    publish=False,
                    details={"due_at": case.identification_due_at.isoformat()},
                )
            )

    async def _close(self, reason: CloseReason, details: dict[str, Any]) -> None:
        cancelled = self._cancel_open_tasks()
        case = self._case
        now = workflow.now()
        entry = self._entry(
            "case.closed",
            details={
                **details,
                "from": case.step.value,
                "seconds_in_step": (now - case.step_since).total_seconds(),
            },
        )
        case.status, case.step, case.close_reason = CaseStatus.CLOSED, Step.CLOSE, reason.value
        case.closed_at = case.step_since = now
        case.notice_until = None
        self._upsert_search_attributes()
        await self._emit(entry, tasks=cancelled)


@workflow.defn(name=INSPECTION_TASK_WORKFLOW)
class InspectionTaskWorkflow(TaskHost):
    """One sampled closed case: an `inspection` task for the county auditors; a fail reopens the case."""

    @workflow.init
    def __init__(self, inp: InspectionInput) -> None:
        self._init_host(inp.policy, 0)
        self._inp = inp

    def _ref(self) -> dict[str, Any]:
        return {
            "case_id": self._inp.case_id,
            "household_id": self._inp.household_id,
            "region_code": self._inp.region_code,
            "step": Step.CLOSE.value,
            "status": CaseStatus.CLOSED.value,
            "close_reason": self._inp.close_reason,
        }

    def _key_prefix(self) -> str:
        return f"{self._inp.case_id}:inspection{self._inp.round}"

    @workflow.run
    async def run(self, inp: InspectionInput) -> dict[str, Any] | None:
        form = await self._run_task("inspection", inp.region_code, subject={"close_reason": inp.close_reason})
        if form is not None and form["result"] == "fail":
            task = next(iter(self._tasks.values()))
            await workflow.execute_activity(
                REOPEN_ACTIVITY,
                ReopenRequest(
                    case_id=inp.case_id,
                    household_id=inp.household_id,
                    region_code=inp.region_code,
                    close_reason=inp.close_reason,
                    findings=form.get("findings", ""),
                    inspection_task_id=task.task_id,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return form


@workflow.defn(name=INSPECTION_SAMPLER_WORKFLOW)
class InspectionSamplerWorkflow:
    """Every `inspection.every_days`: draw the stratified sample (seed + round) and raise inspection tasks."""

    @workflow.run
    async def run(self, inp: SamplerInput) -> None:
        sample: list[SampledCase] = await workflow.execute_activity(
            SAMPLE_ACTIVITY,
            SampleRequest(policy=inp.policy, round=inp.round, now=workflow.now()),
            result_type=list[SampledCase],
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        for case in sample:
            try:
                await workflow.start_child_workflow(
                    InspectionTaskWorkflow.run,
                    InspectionInput(round=inp.round, policy=inp.policy, **case.model_dump()),
                    id=f"inspection-{case.case_id}-{inp.round}",
                    task_queue=inp.task_queue or None,
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )
            except WorkflowAlreadyStartedError:  # raised already by an earlier attempt of this round
                continue
        await workflow.sleep(timedelta(days=inp.policy.inspection.every_days))
        workflow.continue_as_new(inp.model_copy(update={"round": inp.round + 1}))


WORKFLOWS: list[type] = [CaseWorkflow, InspectionTaskWorkflow, InspectionSamplerWorkflow]

"""The task engine every human-task workflow shares (cases, inspections, sweeps, corrections, the
ledger): open a task, watch its deadlines (reminder at 75% of the SLA, overdue and one level up at 100%,
once more at 150%), claim and complete it through validated updates, cancel it.

A task's deadline is decided here, in `_run_task`: its SLA comes from the policy's task definition
(`workflow.tasks.<kind>.sla_days`), the phases from `workflow.escalation`. Every change is recorded through
the projection activity (`_emit`). Deterministic code only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from safetynet_core.policy.workflow import REGION_PREFIX_LENGTH, RegionLevel, WorkflowPolicy
    from safetynet_core.vocabulary import CaseEventName
    from safetynet_workflow.activity_options import ACTIVITY_RETRY, ACTIVITY_TIMEOUT
    from safetynet_workflow.projection.models import (
        PROJECT_ACTIVITY,
        CaseRow,
        Change,
        Entry,
        RecordRef,
        TaskState,
        TaskStatus,
        TimelineName,
    )
    from safetynet_workflow.tasks.forms import FormInvalid, validate_form
    from safetynet_workflow.tasks.models import ClaimRequest, CompleteRequest


def region_at(region_code: str, level: RegionLevel) -> str:
    """The region prefix of `region_code` at `level` (village 12, township 9, county 6, city 4 digits)."""
    return region_code[: REGION_PREFIX_LENGTH[level]]


def inbox_region(region_code: str, level: RegionLevel) -> str:
    """Where a task at `level` is listed: the level's prefix, but never above the county, which runs the
    procedure and must keep seeing a task escalated beyond it (its `level` says how far it went)."""
    if REGION_PREFIX_LENGTH[level] < REGION_PREFIX_LENGTH[RegionLevel.COUNTY]:
        level = RegionLevel.COUNTY
    return region_at(region_code, level)


def rejected(message: str, type_: str, details: Any = None) -> ApplicationError:
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
    def _ref(self) -> RecordRef:
        raise NotImplementedError

    def _case_row(self) -> CaseRow | None:
        return None

    def _ref_for(self, tasks: list[TaskState] | tuple[TaskState, ...]) -> RecordRef:
        """What a change about `tasks` names (a workflow hosting many households' tasks overrides it)."""
        return self._ref()

    def _key_prefix(self) -> str:
        return self._ref().case_id

    def _task_id(self, kind: str) -> str:
        return f"{self._ref().case_id}-{kind}-{self._task_no}"

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
            **self._ref_for(tasks).model_dump(),
        )
        await workflow.execute_local_activity(
            PROJECT_ACTIVITY, change, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
        )

    async def _flush(self) -> None:
        if self._deferred:
            await self._emit()

    async def _run_task(
        self,
        kind: str,
        region: str,
        *,
        department: str | None = None,
        subject: dict[str, Any] | None = None,
        assignee: str | None = None,
    ) -> dict[str, Any] | None:
        """Create a task, watch its deadlines, return its form (None when the task was cancelled). With an
        `assignee` the task goes to that user first (claimed for them) and climbs the ladder when ignored."""
        definition = self._policy.task(kind)
        ref = self._ref()
        now = workflow.now()
        self._task_no += 1
        sla = self._policy.days(definition.sla_days)
        task = TaskState(
            task_id=self._task_id(kind),
            case_id=ref.case_id,
            workflow_id=workflow.info().workflow_id,
            household_id=ref.household_id,
            kind=kind,
            step=definition.step,
            role=definition.role,
            level=definition.level,
            region_code=inbox_region(region, definition.level),
            base_region=region,
            department=department,
            created_at=now,
            due_at=now + timedelta(seconds=sla),
            sla_seconds=sla,
            subject=subject or {},
        )
        self._route(task)
        if assignee:
            task.status, task.assignee = TaskStatus.CLAIMED, assignee
        self._tasks[task.task_id] = task
        details: dict[str, Any] = {"title_zh": definition.title_zh, "title_en": definition.title_en}
        if department and task.subject.get("type"):  # a measure: what it is and for whom
            details.update(measure_type=task.subject["type"], member_id=task.subject.get("member_id"))
        await self._emit(self._entry(CaseEventName.TASK_ASSIGNED, task=task, details=details), tasks=[task])
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
                self._entry(CaseEventName.TASK_REMINDER, task=task, details={"due_at": task.due_at.isoformat()}),
                tasks=[task],
            )
            return
        entries = []
        if phase == 1:
            task.overdue = True
            due = {"due_at": task.due_at.isoformat()}
            entries.append(self._entry(CaseEventName.TASK_OVERDUE, task=task, details=due))
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
            task.region_code = inbox_region(task.base_region, task.level)
            task.status, task.assignee = TaskStatus.OPEN, None
        task.escalation_level += 1
        after = {"level": task.level.value, "role": task.role, "region_code": task.region_code}
        return self._entry(
            CaseEventName.TASK_ESCALATED,
            task=task,
            details={"from": before, "to": after, "escalation_level": task.escalation_level},
        )

    def _open_task(self, task_id: str) -> TaskState:
        task = self._tasks.get(task_id)
        if task is None:
            raise rejected(f"no task {task_id} in this workflow", "NotFound")
        if not task.is_open:
            raise rejected(f"task {task_id} is {task.status.value}", "Conflict")
        return task

    def _check_claim(self, task: TaskState, username: str) -> None:
        if task.status is TaskStatus.CLAIMED and task.assignee != username:
            raise rejected(f"task {task.task_id} is claimed by someone else", "Conflict")

    @workflow.update
    async def claim_task(self, request: ClaimRequest) -> TaskState:
        """Claim an open task (the projection then shows the assignee)."""
        task = self._tasks[request.task_id]
        task.status, task.assignee = TaskStatus.CLAIMED, request.username
        await self._emit(
            self._entry(TimelineName.TASK_CLAIMED, task=task, publish=False, details={"by": request.username}),
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
        form = validate_form(
            task.kind, request.form, self._policy, has_labour=self._labour(), risk_types=self._risk_types()
        )
        await self._finish(task, form.model_dump(mode="json"), request.username)
        return task

    async def _finish(self, task: TaskState, form: dict[str, Any], by: str, *entries: Entry) -> None:
        """Record a task done with its form (by a case worker, or a department's acknowledgement)."""
        task.form = form
        task.status, task.completed_by, task.completed_at = TaskStatus.DONE, by, workflow.now()
        task.assignee = task.assignee or by
        done = self._entry(TimelineName.TASK_COMPLETED, task=task, publish=False, details={"by": by, "form": form})
        await self._emit(done, *entries, tasks=[task])

    @complete_task.validator
    def _validate_complete(self, request: CompleteRequest) -> None:
        task = self._open_task(request.task_id)
        self._check_claim(task, request.username)
        try:
            validate_form(
                task.kind, request.form, self._policy, has_labour=self._labour(), risk_types=self._risk_types()
            )
        except FormInvalid as exc:
            raise rejected(str(exc), "FormInvalid", exc.errors) from None

    @workflow.query
    def task_list(self) -> list[TaskState]:
        return list(self._tasks.values())

    def _labour(self) -> bool | None:
        """Whether the household can work (None while no one knows: neither a work nor a safety-net measure
        is required then, and no elimination can be decided)."""
        return self._has_labour

    def _risk_types(self) -> list[str]:
        """The risk types a plan must address (a case overrides it)."""
        return []

    def _cancel_open_tasks(self) -> list[TaskState]:
        cancelled = [t for t in self._tasks.values() if t.is_open]
        for task in cancelled:
            task.status = TaskStatus.CANCELLED
        return cancelled

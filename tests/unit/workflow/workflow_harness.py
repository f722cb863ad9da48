"""Time-skipping harness for the workflow tests: the real workflows, test-double activities."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from safetynet_core.policy import load_policy
from safetynet_core.policy.workflow import WorkflowPolicy
from safetynet_core.settings import DEFAULT_POLICY_FILE
from safetynet_core.vocabulary import GUARANTEES
from safetynet_workflow.cases.models import CaseInput, CaseSnapshot, Evidence, HouseholdFacts, case_workflow_id
from safetynet_workflow.cases.workflow import CaseWorkflow
from safetynet_workflow.inspection.models import ReopenRequest, SampledCase, SampleRequest
from safetynet_workflow.projection.models import Change, TaskState
from safetynet_workflow.tasks.models import ClaimRequest, CompleteRequest

POLICY = load_policy(DEFAULT_POLICY_FILE)

SCREEN_OK = {"decision": "proceed"}
SECURE = dict.fromkeys(GUARANTEES, True)
VISIT = {
    "visitors": ["Li Wei", "Wang Fang"],
    "consent": True,
    "verified_annual_income_cny": 12000,
    "members_present": 3,
    "notes": "visited",
    "guarantees": SECURE,
}
COMPARISON = {"consistent": True, "notes": ""}
APPROVE = {"decision": "approve"}
REJECT = {"decision": "reject", "reason": "income above the line"}
PLAN = {
    "measures": [{"type": "employment", "department": "human_resources", "description": "factory job"}],
    "responsible": "cadre-li",
}
SAFETY_PLAN = {
    "measures": [{"type": "minimum_living_allowance", "department": "civil_affairs", "description": "dibao"}],
    "responsible": "cadre-li",
}
MEASURE = {"started_on": "2026-02-01", "notes": "started"}
REVIEW_OK = {"annual_net_income_cny": 45000, "guarantees": SECURE, "notes": "stable"}


def evidence(
    household_id: str,
    level: str = "high",
    risk_types: list[str] | None = None,
    assessment_id: str | None = None,
) -> Evidence:
    return Evidence(
        assessment_id=assessment_id or uuid.uuid4().hex,
        household_id=household_id,
        region_code="610327100201",
        category="marginal",
        level=level,
        score=65,
        risk_types=risk_types or ["illness"],
        assessed_at=datetime.now(UTC),
    )


@dataclass
class Recorder:
    """Test doubles for the activities: remember what would have been written."""

    changes: list[Change] = field(default_factory=list)
    reopened: list[ReopenRequest] = field(default_factory=list)
    sample: list[SampledCase] = field(default_factory=list)
    sample_requests: list[SampleRequest] = field(default_factory=list)

    @activity.defn(name="project")
    async def project(self, change: Change) -> None:
        self.changes.append(change)

    @activity.defn(name="household_facts")
    async def household_facts(self, household_id: str) -> HouseholdFacts | None:
        return None  # the directory does not know the household

    @activity.defn(name="reopen_case")
    async def reopen_case(self, request: ReopenRequest) -> str:
        self.reopened.append(request)
        return "reopened"

    @activity.defn(name="sample_closed_cases")
    async def sample_closed_cases(self, request: SampleRequest) -> list[SampledCase]:
        self.sample_requests.append(request)
        return self.sample

    def names(self, case_id: str | None = None, published_only: bool = True) -> list[str]:
        return [
            e.name
            for c in self.changes
            for e in c.entries
            if (case_id is None or c.case_id == case_id) and (e.publish or not published_only)
        ]

    def entries(self, name: str) -> list[Any]:
        return [e for c in self.changes for e in c.entries if e.name == name]


@dataclass
class Harness:
    env: WorkflowEnvironment
    recorder: Recorder
    task_queue: str

    async def start(self, *items: Evidence, policy: WorkflowPolicy | None = None, **extra: Any) -> WorkflowHandle:
        first = items[0]
        extra.setdefault("household", HouseholdFacts(household_id=first.household_id, size=3, labour_members=2))
        inp = CaseInput(
            household_id=first.household_id,
            region_code=first.region_code,
            policy=policy or POLICY.workflow,
            policy_version=POLICY.version,
            evidence=list(items),
            search_attributes=False,
            **extra,
        )
        return await self.env.client.start_workflow(
            CaseWorkflow.run,
            inp,
            id=case_workflow_id(first.household_id) + uuid.uuid4().hex[:6],
            task_queue=self.task_queue,
        )

    async def snapshot(self, handle: WorkflowHandle) -> CaseSnapshot:
        return await handle.query(CaseWorkflow.snapshot)

    async def task(
        self,
        handle: WorkflowHandle,
        kind: str,
        *,
        skip: timedelta = timedelta(hours=6),
        rounds: int = 400,
        skip_first: bool = False,
    ) -> TaskState:
        """Wait (skipping time) until an open task of `kind` exists; return it (latest run of the id)."""
        handle = self.env.client.get_workflow_handle(handle.id)
        for i in range(rounds):
            try:
                tasks: list[TaskState] = await handle.query("task_list", result_type=list[TaskState])
            except RPCError as exc:  # a child workflow not started yet
                if exc.status is not RPCStatusCode.NOT_FOUND:
                    raise
                tasks = []
            found = [t for t in tasks if t.kind == kind and t.is_open]
            if found and not (skip_first and i == 0):
                return found[0]
            await self.env.sleep(skip if i > 2 else timedelta(seconds=1))
        raise AssertionError(f"no open {kind} task")

    async def complete(self, handle: WorkflowHandle, kind: str, form: dict[str, Any], **wait: Any) -> TaskState:
        task = await self.task(handle, kind, **wait)
        handle = self.env.client.get_workflow_handle(handle.id)
        done: TaskState = await handle.execute_update(
            "complete_task",
            CompleteRequest(task_id=task.task_id, username=task.assignee or "tester", form=form),
            result_type=TaskState,
        )
        return done

    async def claim(self, handle: WorkflowHandle, task: TaskState, username: str) -> TaskState:
        claimed: TaskState = await handle.execute_update(
            "claim_task", ClaimRequest(task_id=task.task_id, username=username), result_type=TaskState
        )
        return claimed

    async def verify(self, handle: WorkflowHandle, *, visit: dict[str, Any] = VISIT) -> None:
        """Screen → home visit + data comparison → notice → township review → county approval."""
        await self.complete(handle, "screen", SCREEN_OK)
        await self.complete(handle, "home_visit", visit)
        await self.complete(handle, "data_comparison", COMPARISON)
        await self.complete(handle, "township_review", APPROVE)
        await self.complete(handle, "county_approval", APPROVE)

    async def assist(self, handle: WorkflowHandle, plan: dict[str, Any] = PLAN) -> None:
        await self.complete(handle, "assistance_plan", plan)
        for _ in plan["measures"]:
            await self.complete(handle, "measure", MEASURE)

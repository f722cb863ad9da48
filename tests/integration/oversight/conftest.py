"""A county's projection written straight through the projection store (cases, tasks, timeline entries) and
its reporting tables filled by SQL, under the workflow API served in-process (no worker, no consumers;
notify unreachable): what the oversight endpoints read, with numbers the tests know."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from safetynet_core.auth import Principal, Role, issue_token
from safetynet_core.db import Database
from safetynet_core.testing import free_port, serve, unique
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.auth.store import UserStore
from safetynet_workflow.clients.notify import NotifyClient
from safetynet_workflow.info import SERVICE
from safetynet_workflow.main import create_app
from safetynet_workflow.projection.models import CaseRow, Change, Entry, TaskState
from safetynet_workflow.projection.store import ProjectionStore
from safetynet_workflow.reports.tables import report_assessments, report_households
from safetynet_workflow.settings import Settings
from safetynet_workflow.tables import ledger_items

NOW = datetime.now(UTC)
COUNTY, CHENGGUAN, DONGFENG = "610327", "610327100", "610327101"
DONGGUAN, XIGUAN, DONGFENG_VILLAGE = "610327100201", "610327100202", "610327101201"
STATUS_OF = {"screen": "screening", "verify": "verifying", "assist": "assisting", "evaluate": "evaluating",
             "close": "closed"}  # fmt: skip
PASSWORD = "oversight-password-1"


@dataclass
class County:
    """The workflow API over a schema the test fills, and signed-in callers by role and region."""

    settings: Settings
    db: Database
    http: httpx.AsyncClient
    headers: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    usernames: dict[tuple[str, str], str] = field(default_factory=dict)
    tasks_made: int = 0

    async def auth(self, role: Role, region: str) -> dict[str, str]:
        """A user of `role` in `region` with an open login session (workflow checks both)."""
        if (role.value, region) not in self.headers:
            username = unique(role.value[:4])
            await create_user(self.settings, username=username, password=PASSWORD, role=role.value, region=region)
            session_id = await UserStore(self.db).open_session(username, timedelta(hours=1))
            token = issue_token(
                self.settings, Principal(subject=username, role=role, region=region), session_id=session_id
            )
            self.headers[role.value, region] = {"Authorization": f"Bearer {token}"}
            self.usernames[role.value, region] = username
        return self.headers[role.value, region]

    async def get(self, path: str, role: Role, scope: str, /, **params: Any) -> httpx.Response:
        """GET as a user of `role` whose region is `scope` (`params`: the query, `region` among them)."""
        return await self.http.get(path, params=params, headers=await self.auth(role, scope))

    async def case(
        self,
        case_id: str,
        village: str,
        step: str,
        *,
        head: str = "",
        category: str = "marginal",
        opened_days_ago: float = 3,
        closed_days_ago: float | None = None,
        close_reason: str | None = None,
        breached: bool = False,
        tasks: list[dict[str, Any]] | None = None,
        entries: list[Entry] | None = None,
    ) -> None:
        """A case at `step` (closed when `close_reason`) with tasks (`kind`, `due_in_days`, optional
        `status`, `overdue`, `completed_days_ago`, `form`) and timeline entries."""
        household = f"H{village}{case_id[-4:]}"
        closed = close_reason is not None
        row = CaseRow(
            case_id=case_id, workflow_id=f"case-{household}", household_id=household, region_code=village,
            status=STATUS_OF["close" if closed else step], step="close" if closed else step,
            close_reason=close_reason, category=category, policy_version="2026.1", head_name=head or None,
            opened_at=NOW - timedelta(days=opened_days_ago), step_since=NOW,
            closed_at=NOW - timedelta(days=closed_days_ago or 0) if closed else None,
            identification_breached=breached,
        )  # fmt: skip
        made = [self._task(case_id, household, village, spec) for spec in tasks or []]
        change = Change(version=1, case_id=case_id, household_id=household, region_code=village, step=row.step,
                        status=row.status, case=row, tasks=made, entries=entries or [])  # fmt: skip
        await ProjectionStore(self.db).apply(change)

    def _task(self, owner: str, household: str, region: str, spec: dict[str, Any]) -> TaskState:
        self.tasks_made += 1
        due = NOW + timedelta(days=spec.get("due_in_days", 2))
        completed = spec.get("completed_days_ago")
        done_at = NOW - timedelta(days=completed) if completed is not None else None
        return TaskState(
            task_id=f"{owner}-{spec['kind']}-{self.tasks_made}", case_id=owner, workflow_id=f"wf-{owner}",
            household_id=household, kind=spec["kind"], step=spec.get("step", "verify"), role="village_cadre",
            level="village", region_code=region, base_region=region, status=spec.get("status", "open"),
            created_at=due - timedelta(days=2), due_at=due, sla_seconds=172800,
            overdue=spec.get("overdue", due < (done_at or NOW)), form=spec.get("form"), completed_at=done_at,
        )  # fmt: skip

    async def ledger_item(self, item_id: str, region: str, due_in_days: float, status: str = "open") -> None:
        """A rectification item with its task (as the ledger workflow records them)."""
        async with self.db.unit_of_work() as uow:
            await uow.execute(insert(ledger_items).values(
                item_id=item_id, source="inspection", source_ref=unique("ref"), region_code=region, problem="整改",
                status="open", created_by="auditor", created_at=NOW - timedelta(days=20),
            ))  # fmt: skip
            await uow.commit()
        task = self._task(item_id, "", region, {"kind": "rectification", "step": "rectification",
                                                "due_in_days": due_in_days, "status": status})  # fmt: skip
        change = Change(version=1, case_id=item_id, household_id="", region_code=region, step="rectification",
                        tasks=[task])  # fmt: skip
        await ProjectionStore(self.db).apply(change)

    async def assessment(
        self, household: str, village: str, *, hours_ago: float, opens_case: bool = True, head: str = ""
    ) -> None:
        """A household in the directory and its latest assessment (with one explained reason)."""
        reason = {"rule": "medical_trailing", "points": 20, "reason_zh": "近12个月医疗自付达到预警线",
                  "reason_en": "medical out-of-pocket reaches the threshold"}  # fmt: skip
        async with self.db.unit_of_work() as uow:
            await uow.execute(insert(report_households).values(
                household_id=household, region_code=village, recorded_at=NOW, head_name=head or None, members=3,
            ))  # fmt: skip
            await uow.execute(insert(report_assessments).values(
                assessment_id=unique("A"), household_id=household, region_code=village, category="marginal",
                level="high" if opens_case else "low", score=66 if opens_case else 20, risk_types=["illness"],
                warnings=["medical_trailing"] if opens_case else [], opens_case=opens_case,
                reasons=[reason] if opens_case else [], assessed_at=NOW - timedelta(hours=hours_ago),
            ))  # fmt: skip
            await uow.commit()


@pytest.fixture
async def county(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> AsyncIterator[County]:
    settings: Settings = isolated_settings(
        Settings, run_worker=False, run_consumer=False, inspection_enabled=False, workflow_task_queue=unique("q")
    )
    await provision(settings, SERVICE)
    db = Database(settings, settings.db_schema or SERVICE.schema)
    dead_notify = NotifyClient(f"http://127.0.0.1:{free_port()}", timeout=1)
    try:
        async with (
            serve(create_app(settings, notify=dead_notify)) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            yield County(settings, db, http)
    finally:
        await db.close()

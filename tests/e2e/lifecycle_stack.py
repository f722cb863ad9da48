"""The four services in this process on fresh schemas, topics and task queue, over the real Kafka,
Postgres and Temporal dev server of `make up`, with a drill policy (a short policy day) and a webhook
receiver on loopback; and the case workers who act through the HTTP APIs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI, Request

from safetynet_core.settings import REPO_ROOT
from safetynet_core.testing import eventually, free_port, serve, unique
from safetynet_intake.clients import create_client
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_intake.main import create_app as create_intake
from safetynet_intake.settings import Settings as IntakeSettings
from safetynet_notify.info import SERVICE as NOTIFY
from safetynet_notify.main import create_app as create_notify
from safetynet_notify.settings import Settings as NotifySettings
from safetynet_risk.info import SERVICE as RISK
from safetynet_risk.main import create_app as create_risk
from safetynet_risk.settings import Settings as RiskSettings
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.info import SERVICE as WORKFLOW
from safetynet_workflow.main import create_app as create_workflow
from safetynet_workflow.settings import Settings as WorkflowSettings

PASSWORD = "drill password 2026"
DAY_SECONDS = 2.0  # one policy day of the test's drill
LADDER = ("cadre", "township", "county")  # who may have a village task, as it climbs


def drill_policy(directory: Path) -> Path:
    """policy/drill.yaml on a two-second day."""
    path = directory / "drill-test.yaml"
    path.write_text(f"extends: {REPO_ROOT / 'policy' / 'drill.yaml'}\nworkflow:\n  day_seconds: {DAY_SECONDS}\n")
    return path


@dataclass
class Receiver:
    """A webhook receiver on loopback: every delivery's JSON body."""

    bodies: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> dict[str, bool]:
            self.bodies.append(await request.json())
            return {"ok": True}

        return app


@dataclass
class Drill:
    http: httpx.AsyncClient
    urls: dict[str, str]
    keys: dict[str, str]
    started: float = field(default_factory=time.monotonic)
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    timeline: list[tuple[float, str, str, str]] = field(default_factory=list)

    def note(self, household: str, what: str, actor: str) -> None:
        self.timeline.append((round(time.monotonic() - self.started, 1), household, what, actor))

    async def auth(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            answer = await self.http.post(
                f"{self.urls['workflow']}/v1/auth/token", data={"username": username, "password": PASSWORD}
            )
            assert answer.status_code == 200, answer.text
            self.tokens[username] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        return self.tokens[username]

    async def put_household(self, record: dict[str, Any]) -> None:
        answer = await self.http.put(
            f"{self.urls['intake']}/v1/households/{record['household_id']}",
            json=record,
            headers={"Authorization": f"Bearer {self.keys['registry']}"},
        )
        assert answer.status_code == 200, answer.text

    async def post_event(self, event: dict[str, Any]) -> None:
        answer = await self.http.post(
            f"{self.urls['intake']}/v1/events", json=event, headers={"Authorization": f"Bearer {self.keys['medical']}"}
        )
        assert answer.status_code == 202, answer.text

    async def call(self, username: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(
            method, f"{self.urls['workflow']}{path}", headers=await self.auth(username), **kwargs
        )

    async def open_task(
        self, household_id: str, kind: str, ladder: tuple[str, ...] = LADDER, timeout: float = 60
    ) -> tuple[str, dict[str, Any]]:
        """(who, task): the first user up the ladder whose inbox has the household's open task of `kind` (on a
        drill clock a task may climb the ladder before anyone gets to it, as it would in a real county)."""

        async def found() -> tuple[str, dict[str, Any]] | None:
            for username in ladder:
                answer = await self.call(username, "GET", "/v1/tasks", params={"kind": kind})
                assert answer.status_code == 200, answer.text
                mine = [t for t in answer.json()["tasks"] if t["household_id"] == household_id]
                if mine:
                    return username, mine[0]
            return None

        return await eventually(found, timeout=timeout, message=f"{kind} for {household_id}")

    async def complete(
        self,
        household_id: str,
        kind: str,
        form: dict[str, Any],
        ladder: tuple[str, ...] = LADDER,
        timeout: float = 60,
    ) -> str:
        """Complete the household's task of `kind` as whoever has it now; returns who did."""

        async def done() -> str | None:
            username, task = await self.open_task(household_id, kind, ladder, timeout)
            answer = await self.call(username, "POST", f"/v1/tasks/{task['task_id']}/complete", json=form)
            if answer.status_code in (404, 409):  # escalated (or claimed for someone) meanwhile: look again
                return None
            assert answer.status_code == 200, answer.text
            self.note(household_id, kind, username)
            return username

        return await eventually(done, timeout=timeout, message=f"{kind} of {household_id} completed")

    async def case(self, username: str, household_id: str, timeout: float = 60) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            answer = await self.call(username, "GET", "/v1/cases")
            cases = [c for c in answer.json()["cases"] if c["household_id"] == household_id]
            if not cases:
                return None
            detail = await self.call(username, "GET", f"/v1/cases/{cases[0]['case_id']}")
            return dict(detail.json())

        return await eventually(found, timeout=timeout, message=f"the case of {household_id}")

    async def case_until(
        self, username: str, household_id: str, done: Callable[[dict[str, Any]], bool], what: str, timeout: float
    ) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            case = await self.case(username, household_id)
            return case if done(case) else None

        return await eventually(reached, timeout=timeout, interval=0.5, message=what)


USERS = (
    ("cadre", "village_cadre", "610327100201", None),
    ("township", "township_officer", "610327100", None),
    ("county", "county_officer", "610327", None),
    ("auditor", "auditor", "610327", None),
    ("hr", "department_officer", "610327", "human_resources"),
    ("medical", "department_officer", "610327", "medical_insurance"),
    ("civil", "department_officer", "610327", "civil_affairs"),
)


@asynccontextmanager
async def drill_stack(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any], policy_file: Path, receiver: Receiver
) -> AsyncIterator[Drill]:
    ports = {name: free_port() for name in ("intake", "risk", "workflow", "notify")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    suffix = unique("")[1:]
    shared = {
        "topic_household_events": f"test.household-events.{suffix}",
        "topic_risk_assessments": f"test.risk-assessments.{suffix}",
        "topic_case_events": f"test.case-events.{suffix}",
        "policy_file": policy_file,
        "auth_url": urls["workflow"],
    }
    intake: IntakeSettings = await provision(
        isolated_settings(IntakeSettings, **shared, relay_poll_interval=0.1), INTAKE
    )
    risk: RiskSettings = await provision(
        isolated_settings(RiskSettings, **shared, consumer_group=unique("risk"), consume_timeout_ms=200), RISK
    )
    workflow: WorkflowSettings = await provision(
        isolated_settings(
            WorkflowSettings, **shared, consumer_group=unique("workflow"), workflow_task_queue=unique("drill"),
            intake_url=urls["intake"], notify_url=urls["notify"], gauge_refresh_seconds=5,
        ),
        WORKFLOW,
    )  # fmt: skip
    notify: NotifySettings = await provision(
        isolated_settings(
            NotifySettings, **shared, consumer_group=unique("notify"), delivery_poll_seconds=0.1,
            notify_allowed_networks="127.0.0.0/8", public_base_url=urls["workflow"],
        ),
        NOTIFY,
    )  # fmt: skip
    for username, role, region, department in USERS:
        await create_user(workflow, username=username, password=PASSWORD, role=role, region=region,
                          department=department)  # fmt: skip
    conn = await asyncpg.connect(intake.asyncpg_dsn, server_settings={"search_path": intake.db_schema or ""})
    try:
        keys = {
            "registry": (await create_client(conn, "rural_revitalization", "registry"))[1],
            "medical": (await create_client(conn, "medical_insurance", "hospital"))[1],
        }
    finally:
        await conn.close()
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(serve(create_workflow(workflow), port=ports["workflow"]))
        await stack.enter_async_context(serve(create_intake(intake), port=ports["intake"]))
        await stack.enter_async_context(serve(create_risk(risk), port=ports["risk"]))
        await stack.enter_async_context(serve(create_notify(notify), port=ports["notify"]))
        urls["receiver"] = await stack.enter_async_context(serve(receiver.app()))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        yield Drill(http, urls, keys)

"""The workflow service served in-process on a fresh schema, topics and task queue, with helpers to feed
its topics (registry records, assessments) and to log case workers in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from temporalio.client import Client

from safetynet.v1 import household_events_pb2 as hpb
from safetynet_core.contracts import SCHEMA_VERSION, HouseholdEvent, to_timestamp
from safetynet_core.db import Database
from safetynet_core.kafka import make_producer
from safetynet_core.testing import eventually, sample_assessment, serve, unique
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.info import SERVICE
from safetynet_workflow.main import create_app
from safetynet_workflow.reports.tables import report_households
from safetynet_workflow.settings import Settings

PASSWORD = "correct horse battery staple"


def registry_record(
    household_id: str,
    region_code: str,
    grid_id: str = "",
    *,
    income: float = 30000,
    members: int = 3,
    in_school: int = 0,
) -> bytes:
    """A registry record on the household-events topic (as intake's relay publishes it)."""
    now = to_timestamp(datetime.now(UTC))
    return HouseholdEvent(
        schema_version=SCHEMA_VERSION,
        event_id=uuid.uuid4().hex,
        household_id=household_id,
        department="rural_revitalization",
        occurred_at=now,
        received_at=now,
        registry_record=hpb.HouseholdRecord(
            household_id=household_id,
            region_code=region_code,
            poverty_status=hpb.POVERTY_STATUS_GENERAL,
            annual_net_income_cny=income,
            head_member_id=f"{household_id}-m0",
            grid_id=grid_id,
            members=[
                hpb.Member(
                    member_id=f"{household_id}-m{i}", labour_capacity=hpb.LABOUR_CAPACITY_FULL, in_school=i < in_school
                )
                for i in range(members)
            ],
        ),
    ).SerializeToString()


def assessment(
    household_id: str, region_code: str, *, risk_types: tuple[str, ...] = ("illness",), opens_case: bool = True
) -> bytes:
    if opens_case:
        return sample_assessment(household_id, region_code, risk_types=risk_types)
    return sample_assessment(household_id, region_code, risk_types=risk_types, level="low", score=25, warnings=[],
                             opens_case=False, reasons=[])  # fmt: skip


@dataclass
class WorkflowService:
    settings: Settings
    http: httpx.AsyncClient
    producer: AIOKafkaProducer
    db: Database
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    async def user(self, username: str, role: str, region: str, grid_id: str | None = None) -> None:
        await create_user(
            self.settings, username=username, password=PASSWORD, role=role, region=region, grid_id=grid_id
        )

    async def auth(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            response = await self.http.post("/v1/auth/token", data={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self.tokens[username] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return self.tokens[username]

    async def registry(self, *records: tuple[str, bytes]) -> None:
        """Publish registry records and wait until the workflow's directory holds every household."""
        for household_id, value in records:
            await self.producer.send(self.settings.topic_household_events, value, key=household_id.encode())
        await self.producer.flush()
        await self.wait_for_households({household_id for household_id, _ in records})

    async def wait_for_households(self, wanted: set[str]) -> None:
        """Wait until the workflow's household directory (fed from the registry topic) holds `wanted`."""

        async def known() -> bool:
            query = select(report_households.c.household_id).where(report_households.c.household_id.in_(wanted))
            async with self.db.engine.connect() as conn:
                return len((await conn.execute(query)).all()) == len(wanted)

        await eventually(known, timeout=45, message="registry records in the directory")

    async def assess(self, household_id: str, value: bytes) -> None:
        await self.producer.send_and_wait(self.settings.topic_risk_assessments, value, key=household_id.encode())

    async def tasks(self, username: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.http.get("/v1/tasks", headers=await self.auth(username), params=params)
        assert response.status_code == 200, response.text
        return list(response.json()["tasks"])

    async def complete(self, username: str, task_id: str, form: dict[str, Any]) -> httpx.Response:
        return await self.http.post(f"/v1/tasks/{task_id}/complete", headers=await self.auth(username), json=form)


StartWorkflow = Callable[..., AbstractAsyncContextManager[WorkflowService]]


@asynccontextmanager
async def start_workflow_with(
    isolated_settings: Callable[..., Any],
    provision: Callable[..., Any],
    temporal_client: Client | None = None,
    **overrides: Any,
) -> AsyncIterator[WorkflowService]:
    settings: Settings = isolated_settings(
        Settings,
        **{
            "workflow_task_queue": unique("wfq"),
            "consumer_group": unique("workflow"),
            "inspection_enabled": False,
            "gauge_refresh_seconds": 5,
            **overrides,
        },
    )
    await provision(settings, SERVICE)
    db = Database(settings, settings.db_schema or SERVICE.schema)
    producer = make_producer(settings)
    await producer.start()
    try:
        app = create_app(settings, temporal_client=temporal_client)
        async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield WorkflowService(settings, http, producer, db)
    finally:
        await producer.stop()
        await db.close()


@pytest.fixture
def start_workflow(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> StartWorkflow:
    def start(temporal_client: Client | None = None, **overrides: Any) -> AbstractAsyncContextManager[WorkflowService]:
        return start_workflow_with(isolated_settings, provision, temporal_client, **overrides)

    return start


@dataclass
class Stack:
    """Intake, risk and workflow in-process on one set of fresh topics (each with its own schema)."""

    workflow: WorkflowService
    intake_url: str
    risk_url: str
    registry_key: str

    async def put_household(self, record: dict[str, Any]) -> None:
        response = await self.workflow.http.put(
            f"{self.intake_url}/v1/households/{record['household_id']}",
            json=record,
            headers={"Authorization": f"Bearer {self.registry_key}"},
        )
        assert response.status_code == 200, response.text

    async def risk_of(self, household_id: str, username: str) -> dict[str, Any] | None:
        response = await self.workflow.http.get(
            f"{self.risk_url}/v1/households/{household_id}/risk", headers=await self.workflow.auth(username)
        )
        return dict(response.json()) if response.status_code == 200 else None


StartStack = Callable[..., AbstractAsyncContextManager[Stack]]


def household_record(
    household_id: str, region_code: str, grid_id: str, income: float, members: int = 2
) -> dict[str, Any]:
    """A registry record as a rural revitalization client PUTs it (valid synthetic ID numbers)."""
    serial = uuid.uuid4().int % 10**6
    return {
        "household_id": household_id,
        "region_code": region_code,
        "poverty_status": "general",
        "annual_net_income_cny": income,
        "head_member_id": f"{household_id}-m0",
        "grid_id": grid_id,
        "members": [
            {
                "member_id": f"{household_id}-m{i}",
                "name": f"Member {i}",
                "id_number": f"61032719800101{serial:03d}"[:17] + str(i),
                "birth_date": "1980-01-01",
                "labour_capacity": "full",
            }
            for i in range(members)
        ],
    }


@pytest.fixture
def start_stack(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> StartStack:
    from safetynet_intake.clients import create_client
    from safetynet_intake.info import SERVICE as INTAKE
    from safetynet_intake.main import create_app as create_intake
    from safetynet_intake.settings import Settings as IntakeSettings
    from safetynet_risk.info import SERVICE as RISK
    from safetynet_risk.main import create_app as create_risk
    from safetynet_risk.settings import Settings as RiskSettings

    @asynccontextmanager
    async def start() -> AsyncIterator[Stack]:
        intake_settings: IntakeSettings = isolated_settings(IntakeSettings, relay_poll_interval=0.2)
        topics = {
            name: getattr(intake_settings, name)
            for name in ("topic_household_events", "topic_risk_assessments", "topic_case_events")
        }
        risk_settings: RiskSettings = isolated_settings(
            RiskSettings, consumer_group=unique("risk"), consume_timeout_ms=200, **topics
        )
        await provision(intake_settings, INTAKE)
        await provision(risk_settings, RISK)
        conn = await asyncpg.connect(
            intake_settings.asyncpg_dsn, server_settings={"search_path": intake_settings.db_schema or ""}
        )
        try:
            _, registry_key = await create_client(conn, "rural_revitalization", "registry", None)
            _, grid_key = await create_client(conn, "grid", "workflow sweeps", None)
        finally:
            await conn.close()
        async with (
            serve(create_intake(intake_settings)) as intake_url,
            serve(create_risk(risk_settings)) as risk_url,
            start_workflow_with(
                isolated_settings,
                provision,
                intake_url=intake_url,
                intake_grid_api_key=grid_key,
                intake_registry_api_key=registry_key,
                **topics,
            ) as wf,
        ):
            yield Stack(wf, intake_url, risk_url, registry_key)

    return start

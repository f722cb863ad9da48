"""Services served in-process for the security suite, each on a fresh schema and fresh topics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from safetynet_core.settings import CoreSettings
from safetynet_core.testing import serve, unique
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_intake.main import create_app as create_intake
from safetynet_intake.settings import Settings as IntakeSettings
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.info import SERVICE as WORKFLOW
from safetynet_workflow.main import create_app as create_workflow
from safetynet_workflow.settings import Settings as WorkflowSettings
from tests.security.support import PASSWORD, USERS, Running

StartService = Callable[..., AbstractAsyncContextManager[Running]]


@pytest.fixture
def start_service(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> StartService:
    """`async with start_service(info, SettingsCls, create_app, **overrides) as svc:`"""

    @asynccontextmanager
    async def start(
        info: Any, settings_cls: type[CoreSettings], factory: Callable[..., Any], **overrides: Any
    ) -> AsyncIterator[Running]:
        settings = isolated_settings(settings_cls, **overrides)
        await provision(settings, info)
        conn = await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": settings.db_schema})
        app = factory(settings)
        try:
            async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
                yield Running(url, settings, http, conn, app)
        finally:
            await conn.close()

    return start


@pytest.fixture
async def intake(start_service: StartService) -> AsyncIterator[Running]:
    async with start_service(
        INTAKE, IntakeSettings, create_intake, relay_poll_interval=0.2, rate_limit_per_second=5, rate_limit_burst=20
    ) as running:
        yield running


@pytest.fixture
async def workflow(start_service: StartService) -> AsyncIterator[Running]:
    """Workflow with its worker and consumers, and the USERS created."""
    async with start_service(
        WORKFLOW, WorkflowSettings, create_workflow, workflow_task_queue=unique("wfq"), inspection_enabled=False,
        household_facts_wait_seconds=0.5,  # its cases open without a registry record
    ) as running:
        for username, (role, region) in USERS.items():
            await create_user(running.settings, username=username, password=PASSWORD, role=role, region=region)
        yield running

"""The workflow service: the API and the case-worker UI, and (unless run apart) the Temporal worker, the
assessment and reports consumers and the inspection sampler. What runs comes from `registry.py`, the
adapters from `bootstrap.py`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import Depends, FastAPI
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from safetynet_core import kafka
from safetynet_core.app import create_app as create_service_app
from safetynet_core.logging import configure_logging, get_logger
from safetynet_core.openapi import document_errors, extend_openapi
from safetynet_core.responses import MaskedJsonResponse
from safetynet_core.service import supervise
from safetynet_core.tokens import introspection_router, jwks_router, token_verifier
from safetynet_workflow import registry
from safetynet_workflow.auth.api import session_checks
from safetynet_workflow.bootstrap import Adapters, bootstrap
from safetynet_workflow.cases.consumer import AssessmentConsumer
from safetynet_workflow.cases.news import CaseNews
from safetynet_workflow.cases.store import CaseStore
from safetynet_workflow.clients.notify import NotifyClient
from safetynet_workflow.info import SERVICE
from safetynet_workflow.inspection.models import INSPECTION_SAMPLER_WORKFLOW, SamplerInput
from safetynet_workflow.metrics import refresh_gauges
from safetynet_workflow.projection.activities import case_event_producer
from safetynet_workflow.reports.consumer import ReportsConsumer
from safetynet_workflow.settings import Settings
from safetynet_workflow.tasks.openapi import document_task_forms
from safetynet_workflow.temporal import connect_temporal
from safetynet_workflow.ui.csrf import CsrfRefused, csrf_protect
from safetynet_workflow.ui.render import refused_form

log = get_logger(__name__)


async def start_sampler(client: Client, adapters: Adapters) -> None:
    """The inspection sampler: one long-lived loop workflow per task queue (kept if already running)."""
    queue = adapters.settings.workflow_task_queue
    await client.start_workflow(
        INSPECTION_SAMPLER_WORKFLOW,
        SamplerInput(policy=adapters.policy.workflow, task_queue=queue),
        id=f"inspection-sampler-{queue}",
        task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def _refresh_gauges(store: CaseStore, every: float) -> None:
    while True:
        refresh_gauges(await store.gauges(datetime.now(UTC)))
        await asyncio.sleep(every)


def create_app(
    settings: Settings | None = None, *, temporal_client: Client | None = None, notify: NotifyClient | None = None
) -> FastAPI:
    settings = settings or Settings()
    configure_logging(SERVICE.name, settings.log_level, settings.log_json)
    adapters = bootstrap(settings, notify=notify)
    is_active, revocation = session_checks(adapters.users)
    state: dict[str, Client] = {}

    async def temporal_ready() -> None:
        await state["client"].service_client.check_health()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = temporal_client or await connect_temporal(settings)
        state["client"] = client
        producer = kafka.make_producer(settings)  # dead letters of the consumers
        await producer.start()
        case_events = case_event_producer(settings)
        app.state.settings, app.state.adapters, app.state.temporal = settings, adapters, client
        app.state.token_verifier = token_verifier(settings, revocation=revocation)
        loops: list[asyncio.Task[None]] = [
            asyncio.create_task(
                supervise("gauges", lambda: _refresh_gauges(adapters.cases, settings.gauge_refresh_seconds))
            ),
            asyncio.create_task(supervise("regions", adapters.regions.keep_fresh)),
        ]
        worker: Worker | None = None
        worker_run: asyncio.Task[None] | None = None
        if settings.run_worker:
            worker = registry.worker(adapters, client, case_events)
            worker_run = asyncio.create_task(worker.run())
        if settings.run_consumer:
            consumer = AssessmentConsumer(settings, adapters.policy, client, producer, adapters.reports)
            loops.append(asyncio.create_task(supervise("assessment-consumer", consumer.run)))
            reports = ReportsConsumer(settings, adapters.db, producer, on_households=CaseNews(adapters.cases, client))
            loops.append(asyncio.create_task(supervise("reports-consumer", reports.run)))
        if settings.inspection_enabled:
            await start_sampler(client, adapters)
        try:
            yield
        finally:
            for loop in loops:  # stop feeding the worker first, then drain it
                loop.cancel()
            if worker is not None:
                await worker.shutdown()
            for task in [*loops, *([worker_run] if worker_run else [])]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await producer.stop()
            await case_events.close()
            await adapters.close()

    app = create_service_app(
        service=SERVICE.name,
        title="SafetyNet workflow",
        readiness={
            "postgres": adapters.db.ping,
            "kafka": lambda: kafka.ping(settings),
            "temporal": temporal_ready,
        },
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
    )
    for router in registry.API_ROUTERS:  # answers carry what case workers typed: personal data masked
        app.include_router(router, default_response_class=MaskedJsonResponse)
    app.include_router(jwks_router())
    app.include_router(introspection_router(is_active))
    extend_openapi(app, document_task_forms, document_errors())
    for router in registry.PAGE_ROUTERS:  # every form post of the UI carries its CSRF token
        app.include_router(router, include_in_schema=False, dependencies=[Depends(csrf_protect)])
    app.add_exception_handler(CsrfRefused, refused_form)
    return app

"""Workflow service composition root: API, Temporal worker, assessment consumer, inspection sampler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from safetynet_core import kafka
from safetynet_core.app import create_app as create_service_app
from safetynet_core.db import Database
from safetynet_core.logging import configure_logging, get_logger
from safetynet_core.policy import cached_policy
from safetynet_core.service import supervise
from safetynet_workflow.activities import WorkflowActivities, case_event_producer
from safetynet_workflow.api import router
from safetynet_workflow.audit_api import router as audit_router
from safetynet_workflow.consumer import AssessmentConsumer
from safetynet_workflow.fieldops import FIELD_OPS_ROUTERS, FIELD_OPS_WORKFLOWS, FieldOpsActivities
from safetynet_workflow.grids import GridDirectory
from safetynet_workflow.info import SERVICE
from safetynet_workflow.metrics import refresh_gauges
from safetynet_workflow.models import INSPECTION_SAMPLER_WORKFLOW, SamplerInput
from safetynet_workflow.reports.api import router as reports_router
from safetynet_workflow.reports.consumer import ReportsConsumer
from safetynet_workflow.reports.notify import NotifyClient
from safetynet_workflow.reports.store import ReportStore
from safetynet_workflow.settings import Settings
from safetynet_workflow.store import Store
from safetynet_workflow.ui import router as ui_router
from safetynet_workflow.workflows import WORKFLOWS

log = get_logger(__name__)


async def connect_temporal(settings: Settings) -> Client:
    """A Temporal client with the pydantic converter every workflow payload here needs."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """The sandbox, by default with every module passed through (not re-imported per run: about twice
    the case throughput); the restrictions on non-deterministic calls stay. Tests run the full sandbox."""
    if settings.workflow_sandbox == "off":
        return UnsandboxedWorkflowRunner()
    restrictions = SandboxRestrictions.default
    if settings.workflow_sandbox == "passthrough":
        restrictions = restrictions.with_passthrough_all_modules()
    return SandboxedWorkflowRunner(restrictions=restrictions)


async def start_sampler(client: Client, settings: Settings) -> None:
    """The inspection sampler: one long-lived loop workflow per task queue (kept if already running)."""
    policy = cached_policy(str(settings.policy_file))
    await client.start_workflow(
        INSPECTION_SAMPLER_WORKFLOW,
        SamplerInput(policy=policy.workflow, task_queue=settings.workflow_task_queue),
        id=f"inspection-sampler-{settings.workflow_task_queue}",
        task_queue=settings.workflow_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def _refresh_gauges(store: Store, every: float) -> None:
    while True:
        refresh_gauges(await store.gauges(datetime.now(UTC)))
        await asyncio.sleep(every)


def create_app(
    settings: Settings | None = None, *, temporal_client: Client | None = None, notify: NotifyClient | None = None
) -> FastAPI:
    settings = settings or Settings()
    configure_logging(SERVICE.name, settings.log_level, settings.log_json)
    db = Database(settings, settings.db_schema or SERVICE.schema)
    store = Store(db)
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
        app.state.settings, app.state.db, app.state.store, app.state.temporal = settings, db, store, client
        app.state.report_store, app.state.notify = ReportStore(db), notify or NotifyClient()
        loops: list[asyncio.Task[None]] = [
            asyncio.create_task(supervise("gauges", lambda: _refresh_gauges(store, settings.gauge_refresh_seconds)))
        ]
        worker: Worker | None = None
        field_ops: FieldOpsActivities | None = None
        worker_run: asyncio.Task[None] | None = None
        if settings.run_worker:
            activities = WorkflowActivities(settings, store, case_events, client)
            field_ops = FieldOpsActivities(settings, db)
            worker = Worker(
                client,
                task_queue=settings.workflow_task_queue,
                workflow_runner=workflow_runner(settings),
                workflows=[*WORKFLOWS, *FIELD_OPS_WORKFLOWS],
                activities=[*activities.all(), *field_ops.all()],
            )
            worker_run = asyncio.create_task(worker.run())
        if settings.run_consumer:
            consumer = AssessmentConsumer(settings, client, producer, GridDirectory(db))
            loops.append(asyncio.create_task(supervise("assessment-consumer", consumer.run)))
            reports = ReportsConsumer(settings, db, producer)
            loops.append(asyncio.create_task(supervise("reports-consumer", reports.run)))
        if settings.inspection_enabled:
            await start_sampler(client, settings)
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
            if field_ops is not None:
                await field_ops.close()
            await app.state.notify.close()
            await db.close()

    app = create_service_app(
        service=SERVICE.name,
        title="SafetyNet workflow",
        readiness={"postgres": db.ping, "kafka": lambda: kafka.ping(settings), "temporal": temporal_ready},
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(router)
    app.include_router(reports_router)
    app.include_router(audit_router)
    for field_ops_router in FIELD_OPS_ROUTERS:
        app.include_router(field_ops_router)
    app.include_router(ui_router)
    return app

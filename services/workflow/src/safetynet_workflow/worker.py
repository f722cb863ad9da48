"""The Temporal worker on its own: `python -m safetynet_workflow.worker`.

Runs the case workflows and their activities (projection + case events) without the HTTP API; start
the API with `SAFETYNET_RUN_WORKER=false` next to it. Stopped by SIGTERM/SIGINT (graceful shutdown);
a worker that fails (for instance after a long Temporal outage) is rebuilt with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from temporalio.worker import Worker

from safetynet_core.db import Database
from safetynet_core.logging import configure_logging, get_logger
from safetynet_core.service import supervise
from safetynet_workflow.activities import WorkflowActivities, case_event_producer
from safetynet_workflow.fieldops import FIELD_OPS_WORKFLOWS, FieldOpsActivities
from safetynet_workflow.info import SERVICE
from safetynet_workflow.main import connect_temporal, workflow_runner
from safetynet_workflow.settings import Settings
from safetynet_workflow.store import Store
from safetynet_workflow.workflows import WORKFLOWS

log = get_logger(__name__)


async def run_worker(settings: Settings, store: Store) -> None:
    """One worker life: connect, poll until cancelled or failed, then shut down cleanly."""
    client = await connect_temporal(settings)
    producer = case_event_producer(settings)
    field_ops = FieldOpsActivities(settings, store.db)
    try:
        worker = Worker(
            client,
            task_queue=settings.workflow_task_queue,
            workflow_runner=workflow_runner(settings),
            workflows=[*WORKFLOWS, *FIELD_OPS_WORKFLOWS],
            activities=[*WorkflowActivities(settings, store, producer, client).all(), *field_ops.all()],
        )
        log.info("worker_started", task_queue=settings.workflow_task_queue)
        await worker.run()  # cancelling it shuts the worker down gracefully; a fatal error raises
    finally:
        await field_ops.close()
        await producer.close()


async def main() -> None:
    settings = Settings()
    configure_logging(f"{SERVICE.name}-worker", settings.log_level, settings.log_json)
    db = Database(settings, settings.db_schema or SERVICE.schema)
    task = asyncio.create_task(supervise("temporal-worker", lambda: run_worker(settings, Store(db))))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await db.close()


if __name__ == "__main__":
    asyncio.run(main())

"""The Temporal worker on its own: `python -m safetynet_workflow.worker`.

Runs every workflow and activity of `registry.py` without the HTTP API; start the API with
`SAFETYNET_RUN_WORKER=false` next to it. Stopped by SIGTERM/SIGINT (graceful shutdown); a worker that
fails (for instance after a long Temporal outage) is rebuilt with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from safetynet_core.db import Database
from safetynet_core.logging import configure_logging, get_logger
from safetynet_core.service import supervise
from safetynet_workflow import registry
from safetynet_workflow.bootstrap import Adapters, bootstrap
from safetynet_workflow.info import SERVICE
from safetynet_workflow.projection.activities import case_event_producer
from safetynet_workflow.settings import Settings
from safetynet_workflow.temporal import connect_temporal

log = get_logger(__name__)


async def run_worker(adapters: Adapters) -> None:
    """One worker life: connect, poll until cancelled or failed, then shut down cleanly."""
    settings = adapters.settings
    client = await connect_temporal(settings)
    producer = case_event_producer(settings)
    try:
        worker = registry.worker(adapters, client, producer)
        log.info("worker_started", task_queue=settings.workflow_task_queue)
        await worker.run()  # cancelling it shuts the worker down gracefully; a fatal error raises
    finally:
        await producer.close()


async def main() -> None:
    settings = Settings()
    configure_logging(f"{SERVICE.name}-worker", settings.log_level, settings.log_json)
    # Every database use here is an activity, which Temporal retries: no ping before each one.
    adapters = bootstrap(settings, db=Database(settings, settings.db_schema or SERVICE.schema, pre_ping=False))
    task = asyncio.create_task(supervise("temporal-worker", lambda: run_worker(adapters)))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await adapters.close()


if __name__ == "__main__":
    asyncio.run(main())

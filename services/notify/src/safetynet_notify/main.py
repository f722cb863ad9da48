"""Notify service composition root: settings, database, renderer, channels, the case-event consumer and
the delivery worker (background loops in the lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from safetynet_core import contracts, kafka
from safetynet_core.app import create_app as create_service_app
from safetynet_core.db import Database
from safetynet_core.logging import configure_logging
from safetynet_core.openapi import document_errors, extend_openapi
from safetynet_core.policy import Policy, load_policy
from safetynet_core.service import supervise
from safetynet_notify.api import router
from safetynet_notify.consumer import CaseEventConsumer, Planner
from safetynet_notify.exchange_api import router as exchange_router
from safetynet_notify.info import SERVICE
from safetynet_notify.outbound import AddressPolicy, Resolver, system_resolver
from safetynet_notify.registry import RegistryConsumer
from safetynet_notify.render import Renderer
from safetynet_notify.settings import Settings
from safetynet_notify.transports import Transport, default_transports
from safetynet_notify.webhooks import document_webhooks
from safetynet_notify.worker import DeliveryWorker


def create_app(
    settings: Settings | None = None,
    clock: Callable[[], datetime] = contracts.now_utc,
    transports: Mapping[str, Transport] | None = None,
    run_consumer: bool = True,
    run_worker: bool = True,
    resolver: Resolver = system_resolver,
    policy: Policy | None = None,
) -> FastAPI:
    """The notify app; `clock`, `transports` (channel → adapter), the DNS `resolver` of the outbound address
    checks and the policy are injectable for tests."""
    settings = settings or Settings()
    exchange_policy = (policy or load_policy(settings.policy_file)).exchange  # the one place notify loads it
    configure_logging(SERVICE.name, settings.log_level, settings.log_json)
    db = Database(settings, settings.db_schema or SERVICE.schema)
    outbound = AddressPolicy(settings.notify_allowed_networks, resolver)
    channels = dict(transports) if transports is not None else default_transports(settings, outbound)
    wake = asyncio.Event()
    renderer = Renderer(settings.public_base_url, settings.local_timezone)
    planner = Planner(settings, renderer, frozenset(channels))
    consumer = CaseEventConsumer(settings, db, planner, clock, wake, exchange_policy)
    registry = RegistryConsumer(settings, db, exchange_policy, clock, wake)
    worker = DeliveryWorker(settings, db, channels, clock, wake)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.db = db
        app.state.outbound_policy = outbound
        app.state.worker = worker
        app.state.consumer = consumer
        loops = []
        if run_consumer:
            loops.append(asyncio.create_task(supervise("case_event_consumer", consumer.run)))
            loops.append(asyncio.create_task(supervise("registry_consumer", registry.run)))
        if run_worker:
            loops.append(asyncio.create_task(supervise("delivery_worker", worker.run)))
        try:
            yield
        finally:
            for task in loops:
                task.cancel()
            for task in loops:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for transport in channels.values():
                await transport.close()
            await db.close()

    app = create_service_app(
        service=SERVICE.name,
        title="SafetyNet notify",
        readiness={"postgres": db.ping, "kafka": lambda: kafka.ping(settings)},
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
    )
    app.state.exchange_policy = exchange_policy
    app.include_router(router)
    app.include_router(exchange_router)
    extend_openapi(app, document_errors(), document_webhooks(exchange_policy))
    return app

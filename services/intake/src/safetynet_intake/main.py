"""Intake service composition root."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from safetynet_core.app import create_app as create_service_app
from safetynet_core.db import Database
from safetynet_core.logging import configure_logging
from safetynet_core.openapi import document_errors, extend_openapi
from safetynet_core.responses import JsonResponse
from safetynet_core.service import supervise
from safetynet_intake import hotpath
from safetynet_intake.api import post_event, router
from safetynet_intake.clients import ClientAuthenticator
from safetynet_intake.corrections import router as corrections_router
from safetynet_intake.deps import SECURITY_SCHEMES, IntakeRuntime
from safetynet_intake.info import SERVICE
from safetynet_intake.quality_api import router as case_worker_router
from safetynet_intake.relay import OutboxRelay, ProducerFactory
from safetynet_intake.reveal import router as reveal_router
from safetynet_intake.schemas import document_bodies
from safetynet_intake.settings import Settings
from safetynet_intake.status import StatusConsumer
from safetynet_intake.store import create_request_pool
from safetynet_intake.validation import InvalidInput
from safetynet_intake.writer import EventWriter

BATCH_ROUTES = ("/v1/events:batch", "/v1/households:batch")


def create_app(settings: Settings | None = None, producer_factory: ProducerFactory | None = None) -> FastAPI:
    """The intake app; `producer_factory` replaces the relay's Kafka producer (tests aim it elsewhere)."""
    settings = settings or Settings()
    configure_logging(SERVICE.name, settings.log_level, settings.log_json)
    db = Database(settings, settings.db_schema or SERVICE.schema, pool_size=4)  # relay, status, readiness

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_request_pool(settings, db.schema, settings.db_pool_size)
        relay = OutboxRelay(settings, db, producer_factory) if settings.intake_run_relay else None
        app.state.settings = settings
        app.state.db = db
        writer = EventWriter(
            pool, settings.topic_household_events, relay is None, settings.event_writers, settings.event_group_max
        )
        writer.start()
        authenticator = ClientAuthenticator(pool, settings.api_key_cache_ttl)
        app.state.runtime = IntakeRuntime(settings, pool, authenticator, relay, writer)
        if settings.gc_tuning:
            _tune_gc()
        background = []
        if relay is not None:
            background.append(asyncio.create_task(supervise("outbox-relay", relay.run)))
        if settings.intake_run_status_consumer:
            consumer = StatusConsumer(settings, db)
            background.append(asyncio.create_task(supervise("status-consumer", consumer.run)))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await writer.close()
            await pool.close()
            await db.close()

    app = create_service_app(
        service=SERVICE.name,
        title="SafetyNet intake",
        # Kafka is deliberately not a readiness dependency: intake keeps accepting while it is down (the
        # outbox holds the backlog), so a load balancer must not take intake out of rotation for it.
        readiness={"postgres": db.ping},
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        body_limits={route: settings.batch_max_body_bytes for route in BATCH_ROUTES},
    )

    @app.exception_handler(InvalidInput)
    async def _invalid_input(_: Request, exc: InvalidInput) -> JsonResponse:
        return JsonResponse({"detail": exc.errors}, status_code=exc.status)

    app.include_router(router)
    app.include_router(case_worker_router)
    app.include_router(corrections_router)
    app.include_router(reveal_router)
    hotpath.install(app, "POST", "/v1/events", post_event)
    extend_openapi(app, _declare_api_key_scheme, document_bodies, document_errors())
    return app


def _tune_gc() -> None:
    """Objects alive after start-up (modules, app, pools) never become garbage: freeze them out of the
    collector's view and collect young objects less often. Full collections over that heap were the
    main source of p99 latency spikes (tens of milliseconds) under load."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _declare_api_key_scheme(schema: dict[str, Any]) -> None:
    """The bearer API-key scheme the routes refer to, so /docs can send a key."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)

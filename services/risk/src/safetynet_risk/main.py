"""Risk service composition root: the read API, and the two consumers (household events, case events) as
supervised background loops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from safetynet_core import kafka
from safetynet_core.app import create_app as create_service_app
from safetynet_core.db import Database
from safetynet_core.logging import configure_logging
from safetynet_core.openapi import document_errors, extend_openapi
from safetynet_core.policy import Policy, load_policy
from safetynet_core.service import supervise
from safetynet_risk.api import router
from safetynet_risk.case_consumer import CaseEventsConsumer
from safetynet_risk.consumer import FaultHook, RiskConsumer
from safetynet_risk.info import SERVICE
from safetynet_risk.settings import Settings


def create_app(
    settings: Settings | None = None, policy: Policy | None = None, fault: FaultHook | None = None
) -> FastAPI:
    settings = settings or Settings()
    configure_logging(SERVICE.name, settings.log_level, settings.log_json)
    policy = policy or load_policy(settings.policy_file)  # the one place risk loads it
    db = Database(settings, settings.db_schema or SERVICE.schema)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.db = db
        app.state.policy = policy
        loops = []
        if settings.consumer_enabled:
            consumer = RiskConsumer(settings, db, policy, fault)
            app.state.consumer = consumer
            app.state.case_consumer = case_consumer = CaseEventsConsumer(settings, db)
            loops.append(asyncio.create_task(supervise("risk-consumer", consumer.run)))
            loops.append(asyncio.create_task(supervise("risk-case-consumer", case_consumer.run)))
        try:
            yield
        finally:
            for loop in loops:
                loop.cancel()
            for loop in loops:
                with contextlib.suppress(asyncio.CancelledError):
                    await loop
            await db.close()

    app = create_service_app(
        service=SERVICE.name,
        title="SafetyNet risk",
        readiness={"postgres": db.ping, "kafka": lambda: kafka.ping(settings)},
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(router)
    extend_openapi(app, document_errors(secured=(401,)))  # outside the caller's region is 404
    return app

"""Workflow service composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from safetynet_core import kafka
from safetynet_core.app import create_app as create_service_app
from safetynet_core.db import Database
from safetynet_core.logging import configure_logging
from safetynet_workflow.info import SERVICE
from safetynet_workflow.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(SERVICE.name, settings.log_level, settings.log_json)
    db = Database(settings, settings.db_schema or SERVICE.schema)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.db = db
        yield
        await db.close()

    return create_service_app(
        service=SERVICE.name,
        title="SafetyNet workflow",
        readiness={"postgres": db.ping, "kafka": lambda: kafka.ping(settings)},
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
    )

"""FastAPI app factory shared by the four services: health, readiness, metrics, errors, body limits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safetynet_core.errors import error_body, install_error_handlers
from safetynet_core.metrics import RouteMetricsMiddleware, metrics_endpoint
from safetynet_core.responses import JsonResponse

ReadinessCheck = Callable[[], Awaitable[None]]


class BodyLimitMiddleware:
    """Answers 413 as soon as Content-Length or the streamed body passes the limit, before reading it whole."""

    def __init__(self, app: ASGIApp, default_limit: int, limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = dict(limits or {})

    def _limit(self, path: str) -> int:
        for prefix, limit in self.limits.items():
            if path.startswith(prefix):
                return limit
        return self.default_limit

    @staticmethod
    async def _reject(send: Send, limit: int) -> None:
        body = orjson.dumps(error_body(f"request body exceeds {limit} bytes", 413, ["body"]))
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    break
                if declared > limit:
                    await self._reject(send, limit)
                    return
                # The server delivers exactly Content-Length bytes: no need to count them.
                await self.app(scope, receive, send)
                return
        received = 0
        started = False

        async def guarded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._reject(send, limit)


class _BodyTooLarge(Exception):
    pass


def create_app(
    *,
    service: str,
    title: str,
    readiness: Mapping[str, ReadinessCheck],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
    max_body_bytes: int = 1024 * 1024,
    body_limits: Mapping[str, int] | None = None,
    docs: bool = True,
) -> FastAPI:
    """A service app with /healthz, /readyz (each named dependency checked), /metrics and one error shape."""
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        default_response_class=JsonResponse,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        # Metrics are Prometheus (RouteMetricsMiddleware); FastAPI's OpenTelemetry hooks would only cost
        # a provider lookup per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JsonResponse:
        results: dict[str, str] = {}

        async def run(name: str, check: ReadinessCheck) -> None:
            try:
                await asyncio.wait_for(check(), timeout=5)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"error: {type(exc).__name__}: {exc}"[:300]

        await asyncio.gather(*(run(n, c) for n, c in readiness.items()))
        ready = all(v == "ok" for v in results.values())
        body = {"ready": ready, "service": service, "checks": results}
        return JsonResponse(body, status_code=200 if ready else 503)

    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.add_middleware(RouteMetricsMiddleware, service=service)
    app.add_middleware(BodyLimitMiddleware, default_limit=max_body_bytes, limits=body_limits)
    return app

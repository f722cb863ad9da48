"""Prometheus helpers: per-route request metrics as a pure ASGI middleware and the /metrics response."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "safetynet_http_requests_total", "HTTP requests by route and status", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "safetynet_http_request_duration_seconds",
    "HTTP request latency by route",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)


class RouteMetricsMiddleware:
    """Counts and times every request under its route template (never the raw path, to bound labels)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self._routes: dict[tuple[str, str], str] = {}
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _route_of(self, scope: Scope) -> str:
        """The template of the route that served the request: FastAPI leaves it in the scope (routes of
        included routers match only there); plain Starlette routes are matched here, once per path."""
        selected = getattr(scope.get("route"), "path", None)
        if isinstance(selected, str):
            return selected
        key = (scope["method"], scope["path"])
        cached = self._routes.get(key)
        if cached is not None:
            return cached
        route_name = "unmatched"
        for route in scope["app"].router.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                route_name = getattr(route, "path", "unmatched")
                break
        if len(self._routes) < 5000 and "{" not in scope["path"]:
            self._routes[key] = route_name
        return route_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            requests, latency = self._series(scope["method"], self._route_of(scope), status)
            requests.inc()
            latency.observe(time.perf_counter() - start)

    def _series(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        """The labelled counter and histogram of a request, looked up once per (method, route, status)."""
        key = (method, route, status)
        series = self._children.get(key)
        if series is None:
            series = (
                HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                HTTP_LATENCY.labels(self.service, method, route),
            )
            if len(self._children) < 5000:
                self._children[key] = series
        return series


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def label_safe(value: Any, allowed: set[str] | frozenset[str], fallback: str = "other") -> str:
    """Bound label cardinality: unknown values become `fallback`."""
    return value if value in allowed else fallback


def observe_many(histogram: Histogram, amounts: Iterable[float]) -> None:
    """`histogram.observe(amount)` for each amount (an unlabelled histogram, or one child), counted per bucket
    first: a lock per bucket touched instead of two per amount, for loops that observe every row of a batch."""
    histogram._raise_if_not_observable()
    observed = list(amounts)
    for bucket, count in Tally(bisect_left(histogram._upper_bounds, amount) for amount in observed).items():
        histogram._buckets[bucket].inc(count)
    histogram._sum.inc(sum(observed))

"""The hot route's short way through the app: POST /v1/events goes from the app's own middleware (error
handling, body limits, route metrics) straight to its endpoint, past the exception middleware and the
router, which cost a measurable share of a request that does little else. Errors the app has handlers for
get the same answers as on the long way; any other exception propagates as it would there (500)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
ErrorHandler = Callable[[Request, Any], Awaitable[Response]]


@dataclass(frozen=True)
class SelectedRoute:
    """What the router would leave in the scope for the request metrics: the route's template."""

    path: str


class HotRouteMiddleware:
    """Serves `method path` by calling `endpoint` directly; everything else passes on to `app`. Added as the
    innermost app middleware (see `install`), so what wraps the routes wraps this one too."""

    def __init__(self, app: ASGIApp, method: str, path: str, endpoint: Endpoint) -> None:
        self.app = app
        self.method = method
        self.path = path
        self.endpoint = endpoint
        self.route = SelectedRoute(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != self.method:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        request = Request(scope, receive, send)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            handler = _handler_for(scope["app"].exception_handlers, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


def _handler_for(handlers: dict[Any, ErrorHandler], exc: Exception) -> ErrorHandler | None:
    """The handler the exception middleware would pick: by status code for an HTTPException, else by the
    exception's class or nearest base; the catch-all (Exception, 500) belongs to the server error middleware."""
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None


def install(app: FastAPI, method: str, path: str, endpoint: Endpoint) -> None:
    """Add the short way for one route of `app` (before it starts) as its innermost middleware."""
    app.user_middleware.append(Middleware(HotRouteMiddleware, method=method, path=path, endpoint=endpoint))

"""One JSON error shape for every service: `{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from safetynet_core.logging import get_logger
from safetynet_core.responses import JsonResponse

log = get_logger(__name__)

_TYPES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          406: "not_acceptable", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
          422: "validation_error", 429: "rate_limited", 503: "unavailable"}


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="where the problem is: body, query, path or header, then the field")
    msg: str
    type: str = Field(description="a stable machine-readable kind, e.g. missing, forbidden, conflict")


class ErrorOut(BaseModel):
    """The one error shape every 4xx answer of every service has."""

    detail: list[ErrorItem] = Field(min_length=1)


def error_body(msg: str, status: int, loc: list[Any] | None = None, type_: str | None = None) -> dict[str, Any]:
    return {"detail": [{"loc": loc or [], "msg": msg, "type": type_ or _TYPES.get(status, "error")}]}


class ApiError(Exception):
    """Raise from anywhere in a request to answer with the standard error shape."""

    def __init__(self, status: int, msg: str, loc: list[Any] | None = None, type_: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.body = error_body(msg, status, loc, type_)
        self.headers = headers


def validation_detail(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic errors reduced to loc/msg/type (no echo of the input, which may hold ID numbers)."""
    return [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "invalid"), "type": e.get("type", "invalid")}
            for e in errors]


# PostgreSQL refuses NUL characters in text and jsonb: character_not_in_repertoire, untranslatable_character.
_UNSTORABLE_TEXT_STATES = {"22021", "22P05"}
_UNSTORABLE_TEXT = "text must not contain NUL (\\u0000) characters"


def _is_unstorable_text(exc: BaseException | None) -> bool:
    """Whether the database rejected the request's text itself (a client error, not a server fault)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if getattr(exc, "sqlstate", None) in _UNSTORABLE_TEXT_STATES:
            return True
        orig = getattr(exc, "orig", None)
        exc = orig if isinstance(orig, BaseException) else (exc.__cause__ or exc.__context__)
    return False


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JsonResponse:
        return JsonResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JsonResponse:
        return JsonResponse({"detail": validation_detail(list(exc.errors()))}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JsonResponse:
        body = {"detail": exc.detail} if isinstance(exc.detail, list) else error_body(str(exc.detail), exc.status_code)
        return JsonResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JsonResponse:
        if _is_unstorable_text(exc):
            return JsonResponse(error_body(_UNSTORABLE_TEXT, 422, ["body"]), status_code=422)
        log.exception("unhandled_error", path=request.url.path)
        return JsonResponse(error_body("internal error", 500), status_code=500)

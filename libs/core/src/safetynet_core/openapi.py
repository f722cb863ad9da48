"""OpenAPI documents that say what the routes answer: post-processing hooks over FastAPI's schema, and
every error status in the one error shape (`ErrorOut`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from safetynet_core.errors import ErrorOut

Hook = Callable[[dict[str, Any]], None]
REF = "#/components/schemas/{model}"
ERROR_DESCRIPTIONS = {
    400: "The body could not be parsed at all (e.g. not text in the declared encoding)",
    401: "No credential, or one that is not valid (missing, expired, revoked)",
    403: "Authenticated, but not allowed: role, region scope, department or event type",
    404: "No such resource inside the caller's scope",
    409: "Conflicts with the current state (e.g. an event_id reused with a different body)",
    413: "Request body or batch too large",
    415: "Unsupported content type",
    422: "Validation failed; `loc` names the field",
    429: "Rate limited; retry after the Retry-After header's seconds",
}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: these statuses answer the one error shape."""
    return {status: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[status]} for status in statuses}


def add_component_schemas(schema: dict[str, Any], *models: type[BaseModel], **named: dict[str, Any]) -> None:
    """Put models, and ready JSON schemas by name, into `components.schemas` (their `$defs` beside them)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    generated = {model.__name__: model.model_json_schema(ref_template=REF) for model in models}
    for name, json_schema in {**generated, **named}.items():
        json_schema = dict(json_schema)
        components.update(json_schema.pop("$defs", {}))
        components[name] = json_schema


def schema_ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": schema_ref(ErrorOut.__name__)}},
    }


def document_errors(secured: Iterable[int] = (401, 403)) -> Hook:
    """Every operation documents the errors it can answer: `secured` ones when it needs a credential,
    404 with path parameters, 400 and 413 with a body, 422 with parameters or a body (FastAPI's own 422
    schema replaced by the one error shape). Routes add their specific ones with `error_responses`."""
    secured = tuple(secured)

    def hook(schema: dict[str, Any]) -> None:
        add_component_schemas(schema, ErrorOut)
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                statuses: set[int] = set()
                if operation.get("security"):
                    statuses.update(secured)
                if "{" in path:
                    statuses.add(404)
                if operation.get("requestBody"):
                    statuses.update((400, 413, 422))
                if operation.get("parameters"):
                    statuses.add(422)
                responses = operation.setdefault("responses", {})
                for status in statuses:
                    responses[str(status)] = _error_response(status)
                operation["responses"] = dict(sorted(responses.items()))
        components = schema["components"]["schemas"]
        paths = json.dumps(schema.get("paths", {}))
        for name in _FASTAPI_VALIDATION_SCHEMAS:
            if f'"{REF.format(model=name)}"' not in paths:
                components.pop(name, None)

    return hook


def extend_openapi(app: FastAPI, *hooks: Hook) -> None:
    """Run `hooks` once over the app's generated OpenAPI document (kept cached as FastAPI does)."""
    generate = app.openapi
    done = False

    def openapi() -> dict[str, Any]:
        nonlocal done
        schema = generate()
        if not done:
            for hook in hooks:
                hook(schema)
            done = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

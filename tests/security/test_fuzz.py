"""schemathesis against the intake and workflow OpenAPI schemas, served in-process, with valid
credentials: no 5xx, and every 4xx in the one error shape. Bounded: a few examples per operation and mode."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from safetynet_core.testing import unique
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_intake.main import create_app as create_intake
from safetynet_intake.settings import Settings as IntakeSettings
from tests.security.conftest import StartService
from tests.security.support import VILLAGE, Running, token_for

pytestmark = pytest.mark.integration
UNFUZZED = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"})
EXAMPLES = 15
# Derandomized so `make test` is repeatable; SAFETYNET_FUZZ_RANDOM=1 explores fresh inputs on each run.
DERANDOMIZE = os.environ.get("SAFETYNET_FUZZ_RANDOM", "") != "1"


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_: Any, value: Any) -> bytes:
    """The batch routes take one JSON document per line."""
    lines = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)  # stdlib: integers of any size


def _check(response: Any, label: str) -> None:
    assert response.status_code < 500, (label, response.status_code, response.text[:500])
    if response.status_code >= 400:
        detail = response.json()["detail"]
        assert isinstance(detail, list) and detail, (label, response.text[:500])
        for item in detail:
            assert set(item) == {"loc", "msg", "type"} and isinstance(item["loc"], list), (label, item)


def fuzz_operation(
    operation: Any, mode: GenerationMode, base_url: str, authorization: str, session: requests.Session
) -> int:
    """Up to EXAMPLES generated requests for one operation; returns how many were sent."""
    sent = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        nonlocal sent
        headers = {**dict(case.headers or {}), "Authorization": authorization}
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        sent += 1
        _check(response, f"{case.method} {case.formatted_path}")

    run()
    return sent


def fuzz(schema_dict: dict[str, Any], base_url: str, auth_for: Callable[[Any], str]) -> int:
    """Every operation in both generation modes; returns how many requests were sent."""
    sent = 0
    with requests.Session() as session:
        for result in schemathesis.openapi.from_dict(schema_dict).get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            if operation.path not in UNFUZZED:
                sent += sum(
                    fuzz_operation(operation, m, base_url, auth_for(operation), session) for m in GenerationMode
                )
    return sent


async def test_fuzz_intake(start_service: StartService) -> None:
    async with start_service(INTAKE, IntakeSettings, create_intake, intake_run_status_consumer=False) as intake:
        api_key = (await intake.intake_key("rural_revitalization"))["Authorization"]
        jwt = token_for(intake.settings, "county_officer", VILLAGE[:6])["Authorization"]
        schema = (await intake.http.get("/openapi.json")).json()

        def auth_for(operation: Any) -> str:
            return api_key if operation.definition.raw.get("security") == [{"ApiKeyBearer": []}] else jwt

        assert await asyncio.to_thread(fuzz, schema, intake.url, auth_for) > 50


async def test_fuzz_workflow(workflow: Running) -> None:
    token = (await workflow.login("county"))["Authorization"]
    schema = (await workflow.http.get("/openapi.json")).json()
    assert unique()  # the workflow fixture's users are in place
    assert await asyncio.to_thread(fuzz, schema, workflow.url, lambda _: token) > 50

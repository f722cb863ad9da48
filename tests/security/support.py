"""Shared pieces of the security suite: regions, users, credentials, a running service, the route walk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from safetynet_core.auth import Principal, Role, issue_token
from safetynet_core.settings import CoreSettings
from safetynet_core.testing import unique
from safetynet_intake.clients import create_client

VILLAGE, OTHER_VILLAGE, OTHER_COUNTY_VILLAGE = "610327100201", "610327100202", "610328100201"
PASSWORD = "a long test password 1"
# username -> (role, region): the same roles on both sides of a region boundary
USERS = {
    "cadre": ("village_cadre", VILLAGE),
    "stranger": ("village_cadre", OTHER_VILLAGE),
    "county": ("county_officer", VILLAGE[:6]),
    "far_county": ("county_officer", OTHER_COUNTY_VILLAGE[:6]),
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(settings: CoreSettings, role: str, region: str, department: str | None = None) -> dict[str, str]:
    """A case-worker JWT signed with the shared secret (what POST /v1/auth/token issues)."""
    return bearer(
        issue_token(settings, Principal(subject=unique("u"), role=Role(role), region=region, department=department))
    )


@dataclass
class Running:
    """One service served in-process: its URL, settings, an HTTP client and a connection to its schema."""

    url: str
    settings: Any
    http: httpx.AsyncClient
    db: asyncpg.Connection
    app: Any = None

    async def intake_key(self, department: str, event_types: list[str] | None = None) -> dict[str, str]:
        _, api_key = await create_client(self.db, department, f"security {department}", event_types)
        return bearer(api_key)

    async def login(self, username: str) -> dict[str, str]:
        response = await self.http.post("/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return bearer(response.json()["access_token"])


async def project_case(db: asyncpg.Connection, measure_by: str | None = None, household: str | None = None) -> str:
    """A case in VILLAGE as workflow's projection records it (no Temporal run behind it), with a measure task of
    department `measure_by` when given."""
    case_id, now = unique("C"), datetime.now(UTC)
    await db.execute(
        "insert into cases (case_id, workflow_id, household_id, region_code, status, step, policy_version,"
        " opened_at, step_since, version, updated_at)"
        " values ($1, $1, $2, $3, 'assisting', 'assist', 't', $4, $4, 1, $4)",
        case_id, household or unique("H"), VILLAGE, now,
    )  # fmt: skip
    if measure_by:
        await db.execute(
            "insert into tasks (task_id, case_id, workflow_id, household_id, kind, step, role, level, region_code,"
            " department, status, created_at, due_at, version) values ($1, $2, $2, 'H', 'measure', 'assist',"
            " 'department_officer', 'county', $3, $4, 'open', $5, $6, 1)",
            unique("T"), case_id, VILLAGE, measure_by, now, now + timedelta(days=15),
        )  # fmt: skip
    return case_id

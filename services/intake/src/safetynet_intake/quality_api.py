"""Case-worker routes of intake (JWT, region-scoped): a household's registry record (ID numbers masked),
the registry data-quality list and moving a household between grids. Department API keys do not work here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from safetynet_core.auth import Principal, Role
from safetynet_core.contracts import now_utc
from safetynet_core.errors import ApiError
from safetynet_core.masking import mask_personal_data
from safetynet_core.web import require_roles, scoped_region
from safetynet_intake import grids, quality
from safetynet_intake.deps import IntakeRuntime
from safetynet_intake.schemas import HouseholdOut
from safetynet_intake.store import OUTBOX_CHANNEL

router = APIRouter(prefix="/v1", tags=["case workers"])

QualityReader = Annotated[
    Principal,
    Depends(require_roles(Role.VILLAGE_CADRE, Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICER, Role.AUDITOR)),
]
GridEditor = Annotated[
    Principal, Depends(require_roles(Role.VILLAGE_CADRE, Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICER))
]
HouseholdReader = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.GRID_WORKER, Role.VILLAGE_CADRE, Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICER, Role.AUDITOR
        )
    ),
]
CheckName = Literal["completeness", "format", "cross_field", "duplicate", "warning_review"]
assert set(CheckName.__args__) == set(quality.CHECKS)  # type: ignore[attr-defined]  # noqa: S101 (checked at import)


def _runtime(request: Request) -> IntakeRuntime:
    rt: IntakeRuntime = request.app.state.runtime
    return rt


Runtime = Annotated[IntakeRuntime, Depends(_runtime)]


def _prefix(principal: Principal, region: str | None) -> str:
    if principal.role is Role.ADMIN:
        return region or ""
    return scoped_region(principal, region)


class QualityIssueOut(BaseModel):
    issue_id: int
    household_id: str
    region_code: str
    check: CheckName
    rule: str
    field: str
    message: str
    other_household_id: str | None
    detected_at: datetime
    resolved_at: datetime | None
    status: Literal["open", "resolved"]


class QualityIssuesOut(BaseModel):
    issues: list[QualityIssueOut]


class GridMoveOut(BaseModel):
    household_id: str
    grid_id: str
    previous_grid_id: str | None
    status: Literal["moved", "unchanged"]


@router.get(
    "/data-quality",
    response_model=QualityIssuesOut,
    summary="Registry data-quality issues of households in the caller's region",
)
async def list_data_quality(
    principal: QualityReader,
    rt: Runtime,
    region: str | None = Query(None, max_length=12, pattern=r"^\d+$"),
    check: CheckName | None = None,
    status: Literal["open", "resolved", "all"] = "open",
    household_id: str | None = Query(None, max_length=100),
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=2**31 - 1),
) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        issues = await quality.list_issues(conn, _prefix(principal, region), check, status, household_id, limit, offset)
    return {"issues": mask_personal_data(issues)}


@router.get(
    "/households/{household_id}",
    response_model=HouseholdOut,
    summary="A household's registry record (personal data masked)",
)
async def get_household(
    household_id: Annotated[str, Path(min_length=1, max_length=100)], principal: HouseholdReader, rt: Runtime
) -> dict[str, Any]:
    """The registry record a case page shows: ID numbers to their last four characters (the full number only
    through the audited reveal), birth dates as years, the phone to its last four digits."""
    async with rt.pool.acquire() as conn:
        row = await conn.fetchrow(
            "select household_id, region_code, poverty_status, annual_net_income_cny, head_member_id,"
            " members::text as members, phone, grid_id, updated_at from households where household_id = $1",
            household_id,
        )
    if row is None or not principal.can_see(row["region_code"]):
        raise ApiError(404, f"no registered household {household_id} in your region", ["path", "household_id"])
    record = dict(row)
    record["members"] = orjson.loads(record["members"])  # stored with masked ID numbers only (masked_members)
    masked: dict[str, Any] = mask_personal_data(record)
    return masked


class GridMoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid_id: str = Field(pattern=grids.GRID_ID_PATTERN)


@router.put(
    "/households/{household_id}/grid",
    response_model=GridMoveOut,
    summary="Move a household to another grid (re-published)",
)
async def move_to_grid(household_id: str, body: GridMoveIn, principal: GridEditor, rt: Runtime) -> dict[str, Any]:
    now = now_utc()
    async with rt.pool.acquire() as conn, conn.transaction():
        row = await grids.current_household(conn, household_id)
        if row is None or not principal.can_see(row["region_code"]):
            raise ApiError(404, f"no registered household {household_id} in your region", ["path", "household_id"])
        grid_region = await conn.fetchval("select region_code from grids where grid_id = $1", body.grid_id)
        if grid_region is not None and grid_region != row["region_code"]:
            raise ApiError(422, f"grid {body.grid_id} belongs to region {grid_region}", ["body", "grid_id"])
        move = await grids.move_household(
            conn,
            household_id,
            body.grid_id,
            moved_by=principal.subject,
            source="api",
            topic=rt.settings.topic_household_events,
            now=now,
            row=row,
        )
        assert move is not None  # noqa: S101 (invariant: the household row exists)
        changed = move.from_grid_id != move.to_grid_id
        if changed and rt.notify_external_relay:
            await conn.execute("select pg_notify($1, '')", OUTBOX_CHANNEL)
    if changed:
        rt.wake_relay()
    return {
        "household_id": household_id,
        "grid_id": move.to_grid_id,
        "previous_grid_id": move.from_grid_id,
        "status": "moved" if changed else "unchanged",
    }

"""The audited reveal of a full ID number (issue 20). Everywhere else an ID number shows its last four
characters only; a county officer (or an admin) who needs the whole number asks for it with a stated
reason, and the append-only `reveal_audit` log records who, when and why before the number is answered.
The full numbers are kept sealed (`sealing.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from safetynet_core.auth import Principal, Role
from safetynet_core.contracts import now_utc
from safetynet_core.errors import ApiError
from safetynet_core.logging import get_logger
from safetynet_core.masking import mask_personal_data
from safetynet_core.openapi import error_responses
from safetynet_core.web import listing_region, require_roles
from safetynet_intake.quality_api import Runtime

log = get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["case workers"])
Revealer = Annotated[Principal, Depends(require_roles(Role.COUNTY_OFFICER))]
RevealReader = Annotated[Principal, Depends(require_roles(Role.COUNTY_OFFICER, Role.AUDITOR))]


class RevealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=1000)] = Field(
        description="why the full number is needed (recorded in the reveal log)"
    )


class RevealOut(BaseModel):
    reveal_id: int
    household_id: str
    member_id: str
    id_number: str = Field(description="the full ID number")
    revealed_at: datetime


class RevealRecord(BaseModel):
    reveal_id: int
    household_id: str
    member_id: str
    region_code: str
    username: str
    role: str
    reason: str
    revealed_at: datetime


class RevealsOut(BaseModel):
    reveals: list[RevealRecord]


@router.post(
    "/households/{household_id}/members/{member_id}/reveal",
    response_model=RevealOut,
    responses=error_responses(409),
    summary="A member's full ID number, with a stated reason (county officers; every reveal is logged)",
)
async def reveal_id_number(
    household_id: Annotated[str, Path(min_length=1, max_length=100)],
    member_id: Annotated[str, Path(min_length=1, max_length=100)],
    body: RevealIn,
    principal: Revealer,
    rt: Runtime,
    response: Response,
) -> dict[str, Any]:
    """The full ID number of a member of a household in the caller's region; the reveal log records who asked,
    when and why before the number is answered."""
    sealer = rt.sealer
    async with rt.pool.acquire() as conn, conn.transaction():
        region = await conn.fetchval("select region_code from households where household_id = $1", household_id)
        if region is None or not principal.can_see(region):
            raise ApiError(404, f"no registered household {household_id} in your region", ["path", "household_id"])
        kept = await conn.fetchrow(
            "select sealed, key_id from member_id_numbers where household_id = $1 and member_id = $2",
            household_id, member_id,
        )  # fmt: skip
        if kept is None:
            raise ApiError(404, f"no ID number kept for member {member_id}", ["path", "member_id"])
        if kept["key_id"] != sealer.key_id:
            raise ApiError(409, "the ID number was sealed under another key: the registry must send the record again",
                           ["path", "member_id"], "conflict")  # fmt: skip
        try:
            id_number = sealer.open(household_id, member_id, kept["sealed"])
        except InvalidTag as exc:
            raise ApiError(409, "the kept ID number does not open", ["path", "member_id"], "conflict") from exc
        logged = await conn.fetchrow(
            "insert into reveal_audit (household_id, member_id, region_code, username, role, reason, revealed_at)"
            " values ($1, $2, $3, $4, $5, $6, $7) returning reveal_id, revealed_at",
            household_id, member_id, region, principal.subject, principal.role.value, body.reason, now_utc(),
        )  # fmt: skip
    log.info("id_number_revealed", reveal_id=logged["reveal_id"], household_id=household_id, member_id=member_id,
             username=principal.subject)  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return {"reveal_id": logged["reveal_id"], "household_id": household_id, "member_id": member_id,
            "id_number": id_number, "revealed_at": logged["revealed_at"]}  # fmt: skip


@router.get("/reveals", response_model=RevealsOut, summary="The reveal log of households in the caller's region")
async def list_reveals(
    principal: RevealReader,
    rt: Runtime,
    region: Annotated[str | None, Query(pattern=r"^\d{2,12}$")] = None,
    household_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Who revealed which member's ID number, when and why, newest first."""
    prefix = listing_region(principal, region)
    async with rt.pool.acquire() as conn:
        rows = await conn.fetch(
            "select reveal_id, household_id, member_id, region_code, username, role, reason, revealed_at"
            " from reveal_audit where starts_with(region_code, $1) and ($2::text is null or household_id = $2)"
            " order by reveal_id desc limit $3",
            prefix, household_id, limit,
        )  # fmt: skip
    return {"reveals": [mask_personal_data(dict(r)) for r in rows]}

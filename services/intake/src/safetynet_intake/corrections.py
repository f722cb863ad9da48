"""Registry corrections (信息更正纠错) applied to a stored record: `PATCH /v1/households/{id}` from a
rural revitalization client (the workflow service, once a correction is approved). Only the fields
sent change; ID numbers cannot be corrected here (they never leave intake). The corrected record is
re-published through the outbox, so risk re-scores the household."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from safetynet_core.contracts import Money, now_utc
from safetynet_core.errors import ApiError
from safetynet_core.openapi import error_responses
from safetynet_intake import grids
from safetynet_intake.deps import SECURITY, IntakeRuntime, RegistryCaller
from safetynet_intake.store import OUTBOX_CHANNEL
from safetynet_intake.validation import Identifier

router = APIRouter(prefix="/v1", tags=["registry"])
CORRECTABLE = ("poverty_status", "annual_net_income_cny", "head_member_id", "phone")


class MemberCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: Identifier
    name: str | None = Field(None, min_length=1, max_length=100)
    birth_date: date | None = None
    labour_capacity: Literal["full", "partial", "none"] | None = None
    in_school: bool | None = None


class RegistryCorrection(BaseModel):
    """The fields to correct; members are matched by `member_id`."""

    model_config = ConfigDict(extra="forbid")

    poverty_status: Literal["lifted", "general"] | None = None
    annual_net_income_cny: Money | None = None
    head_member_id: Identifier | None = None
    phone: str | None = Field(None, pattern=r"^\+?[0-9][0-9 -]{4,19}$")
    members: list[MemberCorrection] = Field(default_factory=list, max_length=50)
    reference: str | None = Field(None, max_length=200, description="the correction request it applies")


def corrected(row: dict[str, Any], body: RegistryCorrection) -> dict[str, Any]:
    """The stored row with the corrections applied (422 naming the field when one does not fit)."""
    updated = {**row, **body.model_dump(include=set(CORRECTABLE), exclude_none=True)}
    members = orjson.loads(row["members"])
    by_id = {m["member_id"]: m for m in members}
    for i, change in enumerate(body.members):
        member = by_id.get(change.member_id)
        if member is None:
            raise ApiError(422, f"no member {change.member_id} in this household", ["body", "members", i, "member_id"])
        member.update(change.model_dump(mode="json", exclude={"member_id"}, exclude_none=True))
    if updated["head_member_id"] not in by_id:
        raise ApiError(422, "head_member_id must name one of the members", ["body", "head_member_id"])
    updated["members"] = orjson.dumps(members).decode()
    return updated


class CorrectionResult(BaseModel):
    household_id: str
    status: Literal["corrected", "unchanged"]


@router.patch(
    "/households/{household_id}",
    response_model=CorrectionResult,
    responses=error_responses(429),
    openapi_extra=SECURITY,
    summary="Correct fields of a registered household (re-published)",
)
async def correct_household(
    household_id: str, body: RegistryCorrection, caller: RegistryCaller, request: Request
) -> dict[str, Any]:
    rt: IntakeRuntime = request.app.state.runtime
    now = now_utc()
    async with rt.pool.acquire() as conn, conn.transaction():
        row = await grids.current_household(conn, household_id)
        if row is None:
            raise ApiError(404, f"no registered household {household_id}", ["path", "household_id"])
        if not caller.client.covers(row["region_code"]):
            msg = f"client is bound to region {caller.client.region}; household {household_id} is outside it"
            raise ApiError(403, msg, ["path", "household_id"])
        before = dict(row)
        after = corrected(before, body)
        changed = after != before
        if changed:
            await conn.execute(
                "update households set poverty_status = $2, annual_net_income_cny = $3, head_member_id = $4,"
                " phone = $5, members = $6::jsonb, record_hash = $7, updated_at = $8 where household_id = $1",
                household_id,
                after["poverty_status"],
                after["annual_net_income_cny"],
                after["head_member_id"],
                after["phone"],
                after["members"],
                grids.stored_hash(after, after["grid_id"]),
                now,
            )
            await conn.execute(
                "insert into outbox (topic, key, value, created_at) values ($1, $2, $3, $4)",
                rt.settings.topic_household_events,
                household_id,
                grids.registry_message_from_row(after, caller.client.department, now),
                now,
            )
            if rt.notify_external_relay:
                await conn.execute("select pg_notify($1, '')", OUTBOX_CHANNEL)
    if changed:
        rt.wake_relay()
    return {"household_id": household_id, "status": "corrected" if changed else "unchanged"}

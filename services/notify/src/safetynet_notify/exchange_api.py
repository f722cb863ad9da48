"""Outbound exchange routes: subscriptions (admin or county officer), pulls (the purpose's department
officers, region-scoped) and the access log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from safetynet_core.auth import Principal, Role
from safetynet_core.contracts import now_utc
from safetynet_core.errors import ApiError
from safetynet_core.policy.exchange import ExchangePolicy, HouseholdRule, MemberRule, PurposePolicy, Unit
from safetynet_core.web import CurrentPrincipal, require_roles, scoped_region
from safetynet_notify import exchange
from safetynet_notify.deps import Db, ExchangePolicyDep, OutboundPolicy, SubscriptionAdmin, check_receiver_url

router = APIRouter(prefix="/v1/exchange", tags=["exchange"])
LogReader = Annotated[Principal, Depends(require_roles(Role.COUNTY_OFFICER, Role.AUDITOR))]


class ExchangeSubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: str
    purpose: str
    mode: Literal["pull", "push"]
    url: AnyHttpUrl | None = None
    secret: str | None = Field(None, min_length=16, max_length=256)
    region_prefix: str = Field("", max_length=12, pattern=r"^\d*$")

    @model_validator(mode="after")
    def _push_needs_webhook(self) -> ExchangeSubscriptionIn:
        if self.mode == "push" and (self.url is None or self.secret is None):
            raise ValueError("push subscriptions need url and secret")
        return self


def _prefix(principal: Principal, region: str | None) -> str:
    if principal.role is Role.ADMIN:
        return region or ""
    return scoped_region(principal, region)


class PurposeOut(BaseModel):
    purpose: str
    department: str
    description: str
    unit: Unit
    households: list[HouseholdRule] = Field(description="alternatives: a household is selected when any matches")
    members: MemberRule = Field(description="for unit member: which members of a selected household")
    fields: list[str]
    measure_types: list[str] = Field(description="what the department acknowledges with measure_update events")
    coverage_gaps: list[str] = Field(description="the coverage gaps the department closes (change coverage_gap)")
    available: bool = True


class PurposesOut(BaseModel):
    purposes: list[PurposeOut]


class ExchangeSubscriptionOut(BaseModel):
    subscription_id: str
    department: str
    purpose: str
    mode: Literal["pull", "push"]
    url: str | None
    region_prefix: str
    created_by: str
    created_at: datetime
    fields: list[str]


class ChangeOut(BaseModel):
    change_id: int = Field(description="the cursor: pull again with since=<the last change_id received>")
    occurred_at: datetime
    record: dict[str, Any] = Field(description="the purpose's record (its schema: <Purpose>Record)")


class ChangesOut(BaseModel):
    purpose: str
    fields: list[str]
    changes: list[ChangeOut]
    next_since: int


def _purpose(policy: ExchangePolicy, name: str, loc: list[Any], status: int = 404) -> PurposePolicy:
    purpose = policy.purposes.get(name)
    if purpose is None:
        known = ", ".join(sorted(policy.purposes))
        raise ApiError(status, f"unknown purpose {name}; known: {known}", loc, None if status == 404 else "value_error")
    return purpose


@router.get("/purposes", response_model=PurposesOut, summary="The exchange purposes: department, rule, fields")
async def list_purposes(_: CurrentPrincipal, policy: ExchangePolicyDep) -> dict[str, Any]:
    return {
        "purposes": [
            {"purpose": name, **purpose.model_dump(include=set(PurposeOut.model_fields))}
            for name, purpose in policy.purposes.items()
        ]
    }


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=ExchangeSubscriptionOut,
    summary="Subscribe a department to a purpose (pull or push)",
)
async def create_subscription(
    body: ExchangeSubscriptionIn,
    principal: SubscriptionAdmin,
    db: Db,
    policy: ExchangePolicyDep,
    outbound: OutboundPolicy,
) -> dict[str, Any]:
    purpose = _purpose(policy, body.purpose, ["body", "purpose"], status=422)
    if body.department != purpose.department:
        raise ApiError(422, f"purpose {body.purpose} is for department {purpose.department}", ["body", "department"])
    if body.url is not None:
        await check_receiver_url(outbound, str(body.url), ["body", "url"])
    async with db.unit_of_work() as uow:
        created = await exchange.create_subscription(
            uow.session,
            name=body.purpose,
            purpose=purpose,
            mode=body.mode,
            region_prefix=_prefix(principal, body.region_prefix or None),
            created_by=principal.subject,
            url=str(body.url) if body.url else None,
            secret=body.secret,
        )
        await uow.commit()
    return created


@router.get(
    "/{purpose}/changes",
    response_model=ChangesOut,
    summary="Pull a purpose's changes after a cursor (the purpose's department officers)",
)
async def pull_changes(
    purpose: str,
    principal: CurrentPrincipal,
    db: Db,
    policy: ExchangePolicyDep,
    since: int = Query(
        0, ge=0, le=2**63 - 1, description="cursor: the last change_id already received (0 = from the start)"
    ),
    region: str | None = Query(None, max_length=12, pattern=r"^\d+$"),
    limit: int = Query(500, ge=1, le=5000),
) -> dict[str, Any]:
    chosen = _purpose(policy, purpose, ["path", "purpose"])
    if principal.role is not Role.DEPARTMENT_OFFICER or principal.department != chosen.department:
        raise ApiError(
            403, f"only {chosen.department} department officers may pull {purpose}", ["header", "Authorization"]
        )
    prefix = scoped_region(principal, region)
    async with db.unit_of_work() as uow:
        if not await exchange.has_subscription(uow.session, purpose, chosen, prefix):
            raise ApiError(403, f"no {purpose} subscription covers region {prefix}", ["query", "region"])
        changes = await exchange.pull_changes(
            uow.session,
            name=purpose,
            purpose=chosen,
            region_prefix=prefix,
            since=since,
            limit=limit,
            actor=principal.subject,
            now=now_utc(),
        )
        await uow.commit()
    return {
        "purpose": purpose,
        "fields": list(chosen.fields),
        "changes": changes,
        "next_since": changes[-1]["change_id"] if changes else since,
    }


class AccessOut(BaseModel):
    access_id: int
    purpose: str
    department: str
    mode: str
    actor: str
    subscription_id: str | None
    region_prefix: str
    since: int | None
    records: int
    change_ids: list[int]
    at: datetime


@router.get("/access", response_model=list[AccessOut], summary="Who pulled or was pushed what, and when")
async def list_access(
    principal: LogReader,
    db: Db,
    purpose: str | None = Query(None, max_length=100),
    region: str | None = Query(None, max_length=12, pattern=r"^\d+$"),
    limit: int = Query(200, ge=1, le=1000),
) -> list[dict[str, Any]]:
    async with db.unit_of_work() as uow:
        return await exchange.access_log(
            uow.session, purpose=purpose, region_prefix=_prefix(principal, region), limit=limit
        )

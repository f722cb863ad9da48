"""Notify HTTP API: webhook subscriptions and the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select

from safetynet_core.auth import Principal, Role
from safetynet_core.errors import ApiError
from safetynet_core.masking import mask_phone
from safetynet_core.vocabulary import CaseEventName, Channel
from safetynet_core.web import CurrentPrincipal, scoped_region
from safetynet_notify import store
from safetynet_notify.deps import Db, OutboundPolicy, SubscriptionAdmin, check_receiver_url
from safetynet_notify.tables import deliveries

router = APIRouter(prefix="/v1")


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl
    secret: str = Field(min_length=16, max_length=256)
    events: list[CaseEventName] = Field(min_length=1)
    region_prefix: str = Field("", max_length=12, pattern=r"^\d*$")

    @field_validator("events")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class SubscriptionOut(BaseModel):
    subscription_id: str
    url: str
    events: list[str]
    region_prefix: str
    created_by: str
    created_at: datetime


class AttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    duration_ms: int
    outcome: str
    error: str | None


class DeliveryOut(BaseModel):
    delivery_id: int
    notification_key: str
    event_key: str
    event: str
    case_id: str
    region_code: str
    channel: str
    recipient: str
    address: str
    locale: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    attempt_log: list[AttemptOut]


class DeliveriesOut(BaseModel):
    deliveries: list[DeliveryOut]


def _prefix(principal: Principal, region: str | None) -> str:
    """The region prefix a caller may read: admins anything, others their scope (narrowed by the filter)."""
    if principal.role is Role.ADMIN:
        return region or ""
    return scoped_region(principal, region)


def mask_address(channel: str, address: str) -> str:
    """Contact data is not for display: keep enough to recognise it."""
    if channel == Channel.SMS:
        return mask_phone(address) or ""
    if channel == Channel.EMAIL:
        user, _, domain = address.partition("@")
        return f"{user[:1]}***@{domain}"
    return address.split("?", 1)[0]


@router.post("/subscriptions", status_code=201, response_model=SubscriptionOut)
async def create_subscription(
    body: SubscriptionIn, principal: SubscriptionAdmin, db: Db, policy: OutboundPolicy
) -> dict[str, Any]:
    """Subscribe a webhook to case events inside a region prefix (within the caller's scope). The URL must
    resolve to addresses notify may send to (no loopback, private, link-local, multicast or reserved ones
    outside NOTIFY_ALLOWED_NETWORKS)."""
    region = _prefix(principal, body.region_prefix or None)
    await check_receiver_url(policy, str(body.url), ["body", "url"])
    return await store.create_subscription(
        db,
        url=str(body.url),
        secret=body.secret,
        events=body.events,
        region_prefix=region,
        created_by=principal.subject,
    )


@router.get("/subscriptions", response_model=list[SubscriptionOut])
async def list_subscriptions(principal: SubscriptionAdmin, db: Db) -> list[dict[str, Any]]:
    """Active subscriptions inside the caller's scope (secrets are never returned)."""
    return await store.list_subscriptions(db, _prefix(principal, None))


@router.delete("/subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(subscription_id: str, principal: SubscriptionAdmin, db: Db) -> None:
    if not await store.deactivate_subscription(db, subscription_id, _prefix(principal, None)):
        raise ApiError(404, "no such subscription", ["path", "subscription_id"])


@router.get("/deliveries", response_model=DeliveriesOut)
async def list_deliveries(
    principal: CurrentPrincipal,
    db: Db,
    case_id: str | None = Query(None, max_length=100),
    region: str | None = Query(None, max_length=12, pattern=r"^\d+$"),
    status: Literal["pending", "retrying", "deferred", "sent", "dead"] | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> dict[str, Any]:
    """Every delivery of the caller's region (optionally one case) with each attempt and the last error."""
    rows = await store.list_deliveries(
        db, region_prefix=_prefix(principal, region), case_id=case_id, status=status, limit=limit
    )
    for row in rows:
        row["event"] = row["event_name"]
        row["address"] = mask_address(row["channel"], row["address"])
    return {"deliveries": rows}


class DeliverySummaryOut(BaseModel):
    region: str
    since: datetime | None
    sent: int
    by_status: dict[str, int]
    by_channel: dict[str, int]


@router.get("/deliveries/summary", response_model=DeliverySummaryOut)
async def deliveries_summary(
    principal: CurrentPrincipal,
    db: Db,
    region: str | None = Query(None, max_length=12, pattern=r"^\d+$"),
    since: datetime | None = Query(None, description="only deliveries created at or after this moment"),
) -> dict[str, Any]:
    """Counts of the caller's region's deliveries by status and channel (for the workflow reports);
    every count is of deliveries created at or after `since`."""
    prefix = _prefix(principal, region)
    query = select(deliveries.c.status, deliveries.c.channel, func.count()).where(
        func.starts_with(deliveries.c.region_code, prefix)
    )
    if since is not None:
        query = query.where(deliveries.c.created_at >= since)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(query.group_by(deliveries.c.status, deliveries.c.channel))).all()
    by_status: dict[str, int] = {}
    by_channel: dict[str, int] = {}
    for status, channel, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        by_channel[channel] = by_channel.get(channel, 0) + count
    return {
        "region": prefix,
        "since": since,
        "sent": by_status.get("sent", 0),
        "by_status": by_status,
        "by_channel": by_channel,
    }

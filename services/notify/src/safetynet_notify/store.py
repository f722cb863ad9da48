"""Deliveries (the notification outbox), their attempts and webhook subscriptions, in notify's schema."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import any_, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from safetynet_core.db import Database
from safetynet_core.vocabulary import Channel
from safetynet_notify.tables import deliveries, delivery_attempts, subscriptions

OPEN_STATUSES = ("pending", "retrying", "deferred")


@dataclass(frozen=True)
class Claimed:
    """A delivery taken by the worker (leased until its next_attempt_at)."""

    delivery_id: int
    notification_key: str
    event_name: str
    channel: str
    recipient: str
    address: str
    subject: str
    body: str
    payload: dict[str, Any] | None
    escalation_level: int
    attempts: int
    occurred_at: datetime


async def matching_subscriptions(session: AsyncSession, event_name: str, region_code: str) -> list[Any]:
    rows = await session.execute(
        select(subscriptions.c.subscription_id, subscriptions.c.url)
        .where(
            subscriptions.c.active,
            literal(event_name) == any_(subscriptions.c.events),
            func.starts_with(region_code, subscriptions.c.region_prefix),
        )
        .order_by(subscriptions.c.subscription_id)
    )
    return list(rows)


async def enqueue(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Insert deliveries, skipping notification keys already stored; returns the new rows' channels."""
    if not rows:
        return []
    stmt = insert(deliveries).values(list(rows)).on_conflict_do_nothing(index_elements=["notification_key"])
    result = await session.execute(stmt.returning(deliveries.c.channel))
    return list(result.scalars())


async def claim_due(db: Database, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Lease up to `limit` due deliveries (skip-locked, so replicas share the queue)."""
    due = (
        select(deliveries.c.delivery_id)
        .where(deliveries.c.status.in_(OPEN_STATUSES), deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(deliveries)
        .where(deliveries.c.delivery_id.in_(due))
        .values(next_attempt_at=now + lease)
        .returning(*(deliveries.c[f] for f in Claimed.__dataclass_fields__))
    )
    async with db.unit_of_work() as uow:
        rows = (await uow.execute(stmt)).mappings().all()
        await uow.commit()
    return [Claimed(**row) for row in rows]


async def subscription_secret(db: Database, subscription_id: str) -> str | None:
    async with db.unit_of_work() as uow:
        return (
            await uow.execute(
                select(subscriptions.c.secret).where(
                    subscriptions.c.subscription_id == subscription_id, subscriptions.c.active
                )
            )
        ).scalar_one_or_none()


async def recent_sms(db: Database, address: str, since: datetime) -> list[datetime]:
    async with db.unit_of_work() as uow:
        rows = await uow.execute(
            select(deliveries.c.sent_at).where(
                deliveries.c.channel == Channel.SMS, deliveries.c.address == address, deliveries.c.sent_at > since
            )
        )
        return [r for (r,) in rows]


async def defer(db: Database, delivery_id: int, until: datetime, reason: str) -> None:
    async with db.unit_of_work() as uow:
        await uow.execute(
            update(deliveries)
            .where(deliveries.c.delivery_id == delivery_id)
            .values(status="deferred", next_attempt_at=until, last_error=reason)
        )
        await uow.commit()


async def record_attempt(
    db: Database,
    claimed: Claimed,
    *,
    started_at: datetime,
    duration_ms: int,
    error: str | None,
    status: str,
    next_attempt_at: datetime | None,
) -> None:
    """Store one attempt and move the delivery to `status` (sent, retrying or dead) in one transaction."""
    attempt = claimed.attempts + 1
    values: dict[str, Any] = {"status": status, "attempts": attempt}
    if error is not None:  # a success keeps the last failure on record
        values["last_error"] = error
    if status == "sent":
        values["sent_at"] = started_at + timedelta(milliseconds=duration_ms)
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    async with db.unit_of_work() as uow:
        await uow.execute(
            delivery_attempts.insert().values(
                delivery_id=claimed.delivery_id,
                attempt=attempt,
                started_at=started_at,
                duration_ms=duration_ms,
                outcome="success" if error is None else "failure",
                error=error,
            )
        )
        await uow.execute(
            update(deliveries).where(deliveries.c.delivery_id == claimed.delivery_id).values(**values)
        )
        await uow.commit()


async def queue_depth(db: Database) -> dict[tuple[str, str], int]:
    """Open deliveries by (channel, status)."""
    async with db.unit_of_work() as uow:
        rows = await uow.execute(
            select(deliveries.c.channel, deliveries.c.status, func.count())
            .where(deliveries.c.status.in_(OPEN_STATUSES))
            .group_by(deliveries.c.channel, deliveries.c.status)
        )
        return {(channel, status): count for channel, status, count in rows}


async def list_deliveries(
    db: Database, *, region_prefix: str, case_id: str | None, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """Deliveries inside a region prefix with every attempt, newest first."""
    query = select(deliveries).where(func.starts_with(deliveries.c.region_code, region_prefix))
    if case_id:
        query = query.where(deliveries.c.case_id == case_id)
    if status:
        query = query.where(deliveries.c.status == status)
    query = query.order_by(deliveries.c.delivery_id.desc()).limit(limit)
    async with db.unit_of_work() as uow:
        rows = (await uow.execute(query)).mappings().all()
        ids = [r["delivery_id"] for r in rows]
        attempts: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            for a in (
                await uow.execute(
                    select(delivery_attempts)
                    .where(delivery_attempts.c.delivery_id.in_(ids))
                    .order_by(delivery_attempts.c.attempt_id)
                )
            ).mappings():
                attempts[a["delivery_id"]].append(dict(a))
    return [{**dict(r), "attempt_log": attempts[r["delivery_id"]]} for r in rows]


async def create_subscription(
    db: Database, *, url: str, secret: str, events: Sequence[str], region_prefix: str, created_by: str
) -> dict[str, Any]:
    values = {
        "subscription_id": f"sub_{uuid.uuid4().hex}",
        "url": url,
        "secret": secret,
        "events": list(events),
        "region_prefix": region_prefix,
        "created_by": created_by,
    }
    async with db.unit_of_work() as uow:
        row = (
            (await uow.execute(subscriptions.insert().values(**values).returning(subscriptions)))
            .mappings()
            .one()
        )
        await uow.commit()
    return dict(row)


async def list_subscriptions(db: Database, region_prefix: str) -> list[dict[str, Any]]:
    async with db.unit_of_work() as uow:
        rows = await uow.execute(
            select(subscriptions)
            .where(subscriptions.c.active, func.starts_with(subscriptions.c.region_prefix, region_prefix))
            .order_by(subscriptions.c.created_at)
        )
        return [dict(r) for r in rows.mappings()]


async def deactivate_subscription(db: Database, subscription_id: str, region_prefix: str) -> bool:
    async with db.unit_of_work() as uow:
        result = await uow.execute(
            update(subscriptions)
            .where(
                subscriptions.c.subscription_id == subscription_id,
                subscriptions.c.active,
                func.starts_with(subscriptions.c.region_prefix, region_prefix),
            )
            .values(active=False)
            .returning(subscriptions.c.subscription_id)
        )
        found = result.first() is not None
        await uow.commit()
    return found

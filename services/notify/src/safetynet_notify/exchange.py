"""Outbound data exchange (数据交换和推送): departments subscribe to the changes a purpose allows them, and
pull them or receive them as signed webhooks, each record cut down to the purpose's fields.

Purposes are data (`PURPOSES`). Changes come from case events only (notify reads no other service's
tables): a case reaching `assist` is a newly included household. Pushes go through notify's own delivery
outbox: a push subscription is also a row of `subscriptions` (event name `exchange.<purpose>`, which no
case event carries), so the delivery worker signs (`transports.sign`), retries and logs it like any
webhook. Every pull and every push is written to `exchange_access_log`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from safetynet_notify import store
from safetynet_notify.events import CaseEvent


@dataclass(frozen=True)
class Purpose:
    """What one department may receive and why; `missing` says why a purpose cannot be served yet."""

    name: str
    department: str
    description: str
    fields: tuple[str, ...]
    missing: str | None = None


PURPOSES: dict[str, Purpose] = {
    p.name: p
    for p in (
        Purpose(
            name="minimum_living_allowance_check",
            department="civil_affairs",
            description="低保 checks: households newly included in monitoring (case reached the assist step)",
            fields=("household_id", "region_code", "category", "risk_types", "included_at"),
        ),
        Purpose(
            name="school_age_members",
            department="education",
            description="控辍保学: school-age members of monitored households",
            fields=("household_id", "region_code", "member_id", "birth_date", "in_school"),
            missing=(
                "case events carry no household members: needs member_id, birth_date and in_school of "
                "school-age members on the case-events topic (e.g. in case.opened/step_changed details), "
                "or notify consuming registry records from household-events"
            ),
        ),
    )
}
INCLUSION_STEP = "assist"

EXCHANGED = Counter(
    "safetynet_notify_exchange_records_total",
    "Records handed to departments through the outbound exchange, by purpose and mode (pull, push)",
    ["purpose", "mode"],
)


def event_name(purpose: str) -> str:
    return f"exchange.{purpose}"


def inclusion_record(event: CaseEvent, facts: dict[str, Any] | None) -> dict[str, Any]:
    """The minimum_living_allowance_check record: only the permitted fields. Category and risk types come
    from the event's details when present, else from what case.opened said about the case."""
    facts = facts or {}
    details = event.details
    category = details.get("category") or facts.get("category")
    risk_types = details.get("risk_types") if isinstance(details.get("risk_types"), list) else facts.get("risk_types")
    record = {
        "household_id": event.household_id,
        "region_code": event.region_code,
        "category": category,
        "risk_types": risk_types,
        "included_at": event.occurred_at.isoformat(),
    }
    assert tuple(record) == PURPOSES["minimum_living_allowance_check"].fields  # noqa: S101 (invariant)
    return record


def _is_inclusion(event: CaseEvent) -> bool:
    return event.name == "case.step_changed" and (event.details.get("to") or event.step) == INCLUSION_STEP


_REMEMBER_FACTS = text("""
insert into exchange_case_facts (case_id, household_id, category, risk_types, updated_at)
values (:case_id, :household_id, :category, cast(:risk_types as jsonb), :now)
on conflict (case_id) do update set
    category = coalesce(excluded.category, exchange_case_facts.category),
    risk_types = coalesce(excluded.risk_types, exchange_case_facts.risk_types),
    updated_at = excluded.updated_at
""")

_ADD_CHANGE = text("""
insert into exchange_changes (purpose, case_id, household_id, region_code, record, occurred_at, created_at)
values (:purpose, :case_id, :household_id, :region_code, cast(:record as jsonb), :occurred_at, :now)
on conflict (purpose, case_id) do nothing
returning change_id
""")

_PUSH_SUBSCRIBERS = text("""
select x.subscription_id, x.department, s.url from exchange_subscriptions x
join subscriptions s using (subscription_id)
where x.active and s.active and x.mode = 'push' and x.purpose = :purpose
  and starts_with(:region_code, x.region_prefix)
order by x.subscription_id
""")

_LOG = text("""
insert into exchange_access_log (purpose, department, mode, actor, subscription_id, region_prefix, since,
                                 records, change_ids, at)
values (:purpose, :department, :mode, :actor, :subscription_id, :region_prefix, :since, :records,
        :change_ids, :at)
""")


async def on_case_event(session: AsyncSession, event: CaseEvent, now: datetime) -> list[str]:
    """Turn one case event into exchange changes and push deliveries (in the consumer's transaction);
    returns the channels of the deliveries created."""
    if event.name in ("case.opened", "case.step_changed"):
        risk_types = event.details.get("risk_types")
        await session.execute(
            _REMEMBER_FACTS,
            {
                "case_id": event.case_id,
                "household_id": event.household_id,
                "category": event.details.get("category"),
                "risk_types": orjson.dumps(risk_types).decode() if isinstance(risk_types, list) else None,
                "now": now,
            },
        )
    if not _is_inclusion(event):
        return []
    purpose = PURPOSES["minimum_living_allowance_check"]
    facts = (
        (
            await session.execute(
                text("select category, risk_types from exchange_case_facts where case_id = :c"), {"c": event.case_id}
            )
        )
        .mappings()
        .first()
    )
    record = inclusion_record(event, dict(facts) if facts else None)
    change_id = (
        await session.execute(
            _ADD_CHANGE,
            {
                "purpose": purpose.name,
                "case_id": event.case_id,
                "household_id": event.household_id,
                "region_code": event.region_code,
                "record": orjson.dumps(record).decode(),
                "occurred_at": event.occurred_at,
                "now": now,
            },
        )
    ).scalar_one_or_none()
    if change_id is None:  # this case's inclusion was already exchanged (a redelivered event)
        return []
    subscribers = (
        await session.execute(_PUSH_SUBSCRIBERS, {"purpose": purpose.name, "region_code": event.region_code})
    ).all()
    rows = []
    for sub in subscribers:
        payload = {"purpose": purpose.name, "change_id": change_id, "record": record}
        rows.append(
            {
                "notification_key": f"exchange:{purpose.name}:{change_id}:{sub.subscription_id}",
                "event_key": event.event_key,
                "event_name": event_name(purpose.name),
                "case_id": event.case_id,
                "region_code": event.region_code,
                "channel": "webhook",
                "recipient": sub.subscription_id,
                "address": sub.url,
                "locale": "zh-CN",
                "subject": f"{purpose.name} {event.household_id}",
                "body": orjson.dumps(payload).decode(),
                "payload": payload,
                "escalation_level": 0,
                "status": "pending",
                "attempts": 0,
                "occurred_at": event.occurred_at,
                "created_at": now,
                "next_attempt_at": now,
            }
        )
        await session.execute(
            _LOG,
            {
                "purpose": purpose.name,
                "department": sub.department,
                "mode": "push",
                "actor": sub.subscription_id,
                "subscription_id": sub.subscription_id,
                "region_prefix": event.region_code,
                "since": None,
                "records": 1,
                "change_ids": [change_id],
                "at": now,
            },
        )
        EXCHANGED.labels(purpose.name, "push").inc()
    return await store.enqueue(session, rows)


async def create_subscription(
    session: AsyncSession,
    *,
    purpose: Purpose,
    mode: str,
    region_prefix: str,
    created_by: str,
    url: str | None,
    secret: str | None,
) -> dict[str, Any]:
    """A pull or push subscription; a push one also gets a webhook row the delivery worker signs with."""
    subscription_id = f"xsub_{uuid.uuid4().hex}"
    if mode == "push":
        assert url and secret  # noqa: S101 (the request model requires both for push)
        await session.execute(
            text(
                "insert into subscriptions (subscription_id, url, secret, events, region_prefix, created_by)"
                " values (:id, :url, :secret, :events, :region, :by)"
            ),
            {
                "id": subscription_id,
                "url": url,
                "secret": secret,
                "events": [event_name(purpose.name)],
                "region": region_prefix,
                "by": created_by,
            },
        )
    row = (
        (
            await session.execute(
                text(
                    "insert into exchange_subscriptions (subscription_id, department, purpose, mode, url,"
                    " region_prefix, created_by) values (:id, :department, :purpose, :mode, :url, :region, :by)"
                    " returning subscription_id, department, purpose, mode, url, region_prefix, created_by,"
                    " created_at"
                ),
                {
                    "id": subscription_id,
                    "department": purpose.department,
                    "purpose": purpose.name,
                    "mode": mode,
                    "url": url,
                    "region": region_prefix,
                    "by": created_by,
                },
            )
        )
        .mappings()
        .one()
    )
    return {**dict(row), "fields": list(purpose.fields)}


async def has_subscription(session: AsyncSession, purpose: Purpose, region_prefix: str) -> bool:
    """Whether the purpose's department subscribed for a region covering `region_prefix`."""
    found = await session.execute(
        text(
            "select 1 from exchange_subscriptions where active and purpose = :purpose and department = :department"
            " and starts_with(:region, region_prefix) limit 1"
        ),
        {"purpose": purpose.name, "department": purpose.department, "region": region_prefix},
    )
    return found.first() is not None


async def pull_changes(
    session: AsyncSession,
    *,
    purpose: Purpose,
    region_prefix: str,
    since: int,
    limit: int,
    actor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Changes after cursor `since` inside the region, oldest first; the pull is logged."""
    rows = (
        (
            await session.execute(
                text(
                    "select change_id, record, occurred_at from exchange_changes where purpose = :purpose"
                    " and change_id > :since and starts_with(region_code, :region) order by change_id limit :limit"
                ),
                {"purpose": purpose.name, "since": since, "region": region_prefix, "limit": limit},
            )
        )
        .mappings()
        .all()
    )
    changes = [{"change_id": r["change_id"], "occurred_at": r["occurred_at"], "record": r["record"]} for r in rows]
    await session.execute(
        _LOG,
        {
            "purpose": purpose.name,
            "department": purpose.department,
            "mode": "pull",
            "actor": actor,
            "subscription_id": None,
            "region_prefix": region_prefix,
            "since": since,
            "records": len(changes),
            "change_ids": [c["change_id"] for c in changes],
            "at": now,
        },
    )
    EXCHANGED.labels(purpose.name, "pull").inc(len(changes))
    return changes


async def access_log(
    session: AsyncSession, *, purpose: str | None, region_prefix: str, limit: int
) -> list[dict[str, Any]]:
    """Pulls and pushes, newest first, with the push's delivery status."""
    rows = await session.execute(
        text(
            "select a.access_id, a.purpose, a.department, a.mode, a.actor, a.subscription_id, a.region_prefix,"
            " a.since, a.records, a.change_ids, a.at from exchange_access_log a"
            " where (cast(:purpose as text) is null or a.purpose = :purpose)"
            " and starts_with(a.region_prefix, :region) order by a.access_id desc limit :limit"
        ),
        {"purpose": purpose, "region": region_prefix, "limit": limit},
    )
    return [dict(r) for r in rows.mappings()]

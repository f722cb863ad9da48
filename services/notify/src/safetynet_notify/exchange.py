"""Outbound data exchange (数据交换和推送): departments subscribe to the purposes the policy gives them, and
pull the records with a cursor or receive them as signed webhooks, each record cut down to the purpose's
fields by the purpose's record model.

Purposes are policy data (`exchange:` in the policy file, `safetynet_core.policy.exchange`): the department,
the rule selecting households (and members), the fields, the measure types the department acknowledges.
Facts come from two public topics, never from another service's tables: case events (category and risk
types, inclusion when the case reaches `included_at_step`, closure, measure tasks) and the registry records
on household-events (members and labour, kept in `exchange_households` by `registry.RegistryConsumer`).
A purpose's records for a case are made at inclusion, again when a later registry record of the household
selects more members, one per measure task assigned to the department for a measure type it serves, and
one per coverage gap it closes (`exchange_coverage`: found at inclusion, on registry records and on the
members' insurance and employment reports). Each change is unique by (purpose, case, subject) so redelivered
events add nothing.

Pushes go through notify's own delivery outbox: a push subscription is also a row of `subscriptions` (event
name `exchange.<purpose>`, which no case event carries), so the delivery worker signs (`transports.sign`),
retries and logs it like any webhook. Every pull and every push is written to `exchange_access_log`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from safetynet_core.coverage import county_day
from safetynet_core.policy.exchange import (
    ExchangePolicy,
    PurposePolicy,
)
from safetynet_core.vocabulary import Channel
from safetynet_notify import exchange_coverage, store
from safetynet_notify.events import CaseEvent
from safetynet_notify.exchange_records import (
    EXCHANGED,
    CaseFacts,
    Household,
    MeasureTask,
    inclusion_records,
    measure_record,
)

_REMEMBER_FACTS = text("""
insert into exchange_case_facts (case_id, household_id, region_code, category, risk_types, included_at,
                                 closed_at, updated_at)
values (:case_id, :household_id, :region_code, :category, cast(:risk_types as jsonb), :included_at,
        :closed_at, :now)
on conflict (case_id) do update set
    region_code = coalesce(excluded.region_code, exchange_case_facts.region_code),
    category = coalesce(excluded.category, exchange_case_facts.category),
    risk_types = coalesce(excluded.risk_types, exchange_case_facts.risk_types),
    included_at = coalesce(exchange_case_facts.included_at, excluded.included_at),
    closed_at = coalesce(exchange_case_facts.closed_at, excluded.closed_at),
    updated_at = excluded.updated_at
returning case_id, household_id, region_code, category, risk_types, included_at, closed_at
""")

_OPEN_INCLUDED_CASES = text("""
select case_id, household_id, region_code, category, risk_types, included_at, closed_at
from exchange_case_facts where household_id = :household_id and included_at is not null and closed_at is null
""")

_LOCK = text("select pg_advisory_xact_lock(hashtextextended(:key, 0))")

_HOUSEHOLD = text("select household_id, region_code, members from exchange_households where household_id = :h")

_ADD_CHANGE = text("""
insert into exchange_changes (purpose, case_id, subject, household_id, region_code, record, occurred_at, created_at)
values (:purpose, :case_id, :subject, :household_id, :region_code, cast(:record as jsonb), :occurred_at, :now)
on conflict (purpose, case_id, subject) do nothing
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


async def lock_households(session: AsyncSession, household_ids: Iterable[str]) -> None:
    """Serialise the two consumers per household for the rest of the transaction (a case's inclusion and
    the household's registry record must each see the other once both commit). Locks are taken in sorted
    order, once per batch, so the two consumers never deadlock."""
    for household_id in sorted(set(household_ids)):
        await session.execute(_LOCK, {"key": f"exchange:{household_id}"})


def _facts(row: Any) -> CaseFacts:
    return CaseFacts(
        case_id=row.case_id,
        household_id=row.household_id,
        region_code=row.region_code or "",
        category=row.category,
        risk_types=row.risk_types,
        included_at=row.included_at,
        closed_at=row.closed_at,
    )


async def _household(session: AsyncSession, household_id: str) -> Household | None:
    row = (await session.execute(_HOUSEHOLD, {"h": household_id})).first()
    return Household(row.household_id, row.region_code, row.members) if row else None


async def _remember(session: AsyncSession, event: CaseEvent, included_at_step: str, now: datetime) -> CaseFacts:
    details = event.details
    risk_types = details.get("risk_types")
    included = event.name == "case.step_changed" and (details.get("to") or event.step) == included_at_step
    row = (
        await session.execute(
            _REMEMBER_FACTS,
            {
                "case_id": event.case_id,
                "household_id": event.household_id,
                "region_code": event.region_code or None,
                "category": details.get("category") if event.name.startswith("case.") else None,
                "risk_types": orjson.dumps(risk_types).decode() if isinstance(risk_types, list) else None,
                "included_at": event.occurred_at if included else None,
                "closed_at": event.occurred_at if event.name == "case.closed" else None,
                "now": now,
            },
        )
    ).one()
    return _facts(row)


async def _add_changes(
    session: AsyncSession,
    name: str,
    facts: CaseFacts,
    records: Sequence[tuple[str, dict[str, Any]]],
    source_key: str,
    occurred_at: datetime,
    now: datetime,
) -> list[str]:
    """Store the changes not stored yet and queue their pushes; returns the new deliveries' channels."""
    created: list[str] = []
    subscribers: list[Any] | None = None
    for subject, record in records:
        change_id = (
            await session.execute(
                _ADD_CHANGE,
                {
                    "purpose": name,
                    "case_id": facts.case_id,
                    "subject": subject,
                    "household_id": facts.household_id,
                    "region_code": facts.region_code,
                    "record": orjson.dumps(record).decode(),
                    "occurred_at": occurred_at,
                    "now": now,
                },
            )
        ).scalar_one_or_none()
        if change_id is None:  # already exchanged (a redelivered event)
            continue
        if subscribers is None:
            params = {"purpose": name, "region_code": facts.region_code}
            subscribers = list((await session.execute(_PUSH_SUBSCRIBERS, params)).all())
        created += await _push(session, name, facts, change_id, record, subscribers, source_key, occurred_at, now)
    return created


async def _push(
    session: AsyncSession,
    name: str,
    facts: CaseFacts,
    change_id: int,
    record: dict[str, Any],
    subscribers: Sequence[Any],
    source_key: str,
    occurred_at: datetime,
    now: datetime,
) -> list[str]:
    rows = []
    for sub in subscribers:
        payload = {"purpose": name, "change_id": change_id, "record": record}
        rows.append(
            {
                "notification_key": f"exchange:{name}:{change_id}:{sub.subscription_id}",
                "event_key": source_key,
                "event_name": event_name(name),
                "case_id": facts.case_id,
                "region_code": facts.region_code,
                "channel": Channel.WEBHOOK,
                "recipient": sub.subscription_id,
                "address": sub.url,
                "locale": "zh-CN",
                "subject": f"{name} {facts.household_id}",
                "body": orjson.dumps(payload).decode(),
                "payload": payload,
                "escalation_level": 0,
                "status": "pending",
                "attempts": 0,
                "occurred_at": occurred_at,
                "created_at": now,
                "next_attempt_at": now,
            }
        )
        await session.execute(
            _LOG,
            {
                "purpose": name,
                "department": sub.department,
                "mode": "push",
                "actor": sub.subscription_id,
                "subscription_id": sub.subscription_id,
                "region_prefix": facts.region_code,
                "since": None,
                "records": 1,
                "change_ids": [change_id],
                "at": now,
            },
        )
        EXCHANGED.labels(name, "push").inc()
    return await store.enqueue(session, rows)


def event_name(purpose: str) -> str:
    return f"exchange.{purpose}"


def _measure_task(event: CaseEvent) -> tuple[str, MeasureTask] | None:
    """(department, task) of a measure task assigned for a measure type (the type in the event's details)."""
    task = event.task
    measure_type = event.details.get("measure_type")
    if event.name != "task.assigned" or task is None or task.kind != "measure" or not task.department:
        return None
    if not isinstance(measure_type, str):
        return None
    member_id = event.details.get("member_id")
    measure = MeasureTask(
        task_id=task.task_id,
        measure_type=measure_type,
        member_id=member_id if isinstance(member_id, str) else None,
        due_at=task.due_at,
    )
    return task.department, measure


async def on_case_event(session: AsyncSession, event: CaseEvent, policy: ExchangePolicy, now: datetime) -> list[str]:
    """Turn one case event into exchange changes and push deliveries (in the consumer's transaction);
    returns the channels of the deliveries created."""
    measure = _measure_task(event)
    if not event.name.startswith("case.") and measure is None:
        return []
    facts = await _remember(session, event, policy.included_at_step, now)
    selected: list[tuple[str, list[tuple[str, dict[str, Any]]]]] = []
    if event.name == "case.step_changed" and facts.included_at == event.occurred_at:
        household = await _household(session, event.household_id)
        selected = [(n, inclusion_records(n, p, facts, household)) for n, p in policy.purposes.items()]
        selected += await exchange_coverage.gap_records(session, policy, facts, household, county_day(now))
    elif measure is not None:
        department, task = measure
        household = await _household(session, event.household_id)
        selected = [
            (n, [measure_record(n, p, facts, household, task)])
            for n, p in policy.purposes.items()
            if p.department == department and task.measure_type in p.measure_types
        ]
    created: list[str] = []
    for name, records in selected:
        created += await _add_changes(session, name, facts, records, event.event_key, event.occurred_at, now)
    return created


async def on_registry(
    session: AsyncSession, household: Household, policy: ExchangePolicy, source_key: str, now: datetime
) -> list[str]:
    """A household's newer registry record: what its open included case's purposes select now (members
    added, or the record arriving after the inclusion) and its coverage gaps become changes."""
    return await _open_case_changes(session, household.household_id, household, policy, source_key, now, True)


async def on_coverage(
    session: AsyncSession, household_id: str, policy: ExchangePolicy, source_key: str, now: datetime
) -> list[str]:
    """New insurance, employment or death reports on a household (stored already): the coverage gaps of its
    open included case become changes."""
    household = await _household(session, household_id)
    return await _open_case_changes(session, household_id, household, policy, source_key, now, False)


async def _open_case_changes(
    session: AsyncSession,
    household_id: str,
    household: Household | None,
    policy: ExchangePolicy,
    source_key: str,
    now: datetime,
    inclusion: bool,
) -> list[str]:
    created: list[str] = []
    for row in (await session.execute(_OPEN_INCLUDED_CASES, {"household_id": household_id})).all():
        facts = _facts(row)
        purposes = policy.purposes.items() if inclusion else ()
        selected = [(n, inclusion_records(n, p, facts, household)) for n, p in purposes]
        selected += await exchange_coverage.gap_records(session, policy, facts, household, county_day(now))
        for name, records in selected:
            created += await _add_changes(session, name, facts, records, source_key, now, now)
    return created


async def create_subscription(
    session: AsyncSession,
    *,
    name: str,
    purpose: PurposePolicy,
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
                "events": [event_name(name)],
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
                    "purpose": name,
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


async def has_subscription(session: AsyncSession, name: str, purpose: PurposePolicy, region_prefix: str) -> bool:
    """Whether the purpose's department subscribed for a region covering `region_prefix`."""
    found = await session.execute(
        text(
            "select 1 from exchange_subscriptions where active and purpose = :purpose and department = :department"
            " and starts_with(:region, region_prefix) limit 1"
        ),
        {"purpose": name, "department": purpose.department, "region": region_prefix},
    )
    return found.first() is not None


async def pull_changes(
    session: AsyncSession,
    *,
    name: str,
    purpose: PurposePolicy,
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
                {"purpose": name, "since": since, "region": region_prefix, "limit": limit},
            )
        )
        .mappings()
        .all()
    )
    changes = [{"change_id": r["change_id"], "occurred_at": r["occurred_at"], "record": r["record"]} for r in rows]
    await session.execute(
        _LOG,
        {
            "purpose": name,
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
    EXCHANGED.labels(name, "pull").inc(len(changes))
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

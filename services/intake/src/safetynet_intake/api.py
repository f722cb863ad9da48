"""Intake routes: registry records and department events, single and NDJSON batch, and event status."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from safetynet_core.contracts import now_utc, to_timestamp
from safetynet_core.errors import ApiError
from safetynet_core.responses import JsonResponse
from safetynet_intake.clients import ApiClient
from safetynet_intake.deps import SECURITY, CurrentCaller, IntakeRuntime, RegistryCaller, authenticated_caller
from safetynet_intake.grids import keep_assigned_grids
from safetynet_intake.metrics import count_events
from safetynet_intake.quality import record_issues
from safetynet_intake.store import EventRow, Outcome, PipelinedWrites, find_event, store_households
from safetynet_intake.validation import (
    ErrorList,
    HouseholdRecordIn,
    InvalidInput,
    ValidEvent,
    error_item,
    ndjson_lines,
    parse_json,
    validate_event,
    validate_household,
)

router = APIRouter(prefix="/v1")
REGISTRY = "registry_record"
_JSON_BODY = {
    **SECURITY,
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
}
_NDJSON_BODY = {
    **SECURITY,
    "requestBody": {
        "required": True,
        "content": {"application/x-ndjson": {"schema": {"type": "string", "description": "one JSON object per line"}}},
    },
}


def _conflict_error(loc: list[Any]) -> dict[str, Any]:
    return error_item(loc, "event_id was already used with a different body", "conflict")


def _forbidden_type(client: ApiClient, event: ValidEvent, loc: list[Any]) -> dict[str, Any] | None:
    event_type = event.type.value
    if event_type in client.event_types:
        return None
    return error_item(loc, f"client may not post {event_type} events", "forbidden")


class _DirectRoute(APIRoute):
    """For an endpoint that takes only the request and returns a response: called as it is, without
    FastAPI's parameter resolution and response serialisation (a measurable share of the hot path).
    The route stays an APIRoute, so it is documented like the others."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return cast(Callable[[Request], Coroutine[Any, Any, Response]], self.endpoint)


async def post_event(request: Request) -> JsonResponse:
    """The hot path: authenticates by a direct call (no dependency) and is served by `_DirectRoute`."""
    caller = await authenticated_caller(request)
    client, rt = caller.client, caller.rt
    now = now_utc()
    try:
        event = validate_event(parse_json(await request.body(), ["body"]), ["body"], now, rt.future_skew)
    except InvalidInput:
        count_events(client.department, "other", "rejected")
        raise
    event_type = event.type.value
    forbidden = _forbidden_type(client, event, ["body", "type"])
    if forbidden:
        count_events(client.department, event_type, "rejected")
        raise ApiError(403, forbidden["msg"], forbidden["loc"])
    outcome = await rt.writer.write(EventRow.build(client, event, now, to_timestamp(now)))
    event_id = event.event_id
    if outcome is Outcome.ACCEPTED:
        rt.wake_relay()
        count_events(client.department, event_type, "accepted")
        return JsonResponse({"event_id": event_id, "status": "accepted"}, status_code=202)
    if outcome is Outcome.DUPLICATE:
        count_events(client.department, event_type, "duplicate")
        return JsonResponse({"event_id": event_id, "status": "accepted", "duplicate": True}, status_code=200)
    count_events(client.department, event_type, "rejected")
    conflict = _conflict_error(["body", "event_id"])
    raise ApiError(409, conflict["msg"], conflict["loc"], "conflict")


router.add_api_route(
    "/events",
    post_event,
    methods=["POST"],
    status_code=202,
    openapi_extra=_JSON_BODY,
    summary="Post one department event (202 accepted, 200 duplicate, 409 conflict)",
    route_class_override=_DirectRoute,
)


@router.post(
    "/events:batch",
    openapi_extra=_NDJSON_BODY,
    summary="Post up to 10,000 events as NDJSON; good lines are kept, bad ones reported by line",
)
async def post_events_batch(request: Request, caller: CurrentCaller) -> dict[str, Any]:
    client, rt = caller.client, caller.rt
    now = now_utc()
    received_ts = to_timestamp(now)
    lines = ndjson_lines(await request.body(), rt.settings.batch_max_lines)
    rejected: list[_Rejection] = []
    fresh: list[ValidEvent] = []
    chunk: list[EventRow] = []
    hash_of: dict[str, str] = {}
    line_of: dict[str, int] = {}
    in_batch_duplicates: list[str] = []
    async with (
        rt.pool.acquire() as conn,
        conn.transaction(),  # every accepted line, or none, with its outbox row
        PipelinedWrites(conn, rt.settings.topic_household_events, rt.notify_external_relay, len(lines)) as writes,
    ):
        for number, raw in lines:
            try:
                event = validate_event(parse_json(raw, []), [], now, rt.future_skew)
            except InvalidInput as exc:
                rejected.append(_Rejection(number, exc.errors, "other"))
                continue
            event_id, event_type = event.event_id, event.type.value
            error = _forbidden_type(client, event, ["type"])
            if error is None and event_id in hash_of and hash_of[event_id] != event.body_hash:
                error = _conflict_error(["event_id"])
            if error is not None:
                rejected.append(_Rejection(number, [error], event_type))
            elif event_id in hash_of:
                in_batch_duplicates.append(event_type)
            else:
                hash_of[event_id], line_of[event_id] = event.body_hash, number
                fresh.append(event)
                chunk.append(EventRow.build(client, event, now, received_ts))
                if len(chunk) == rt.settings.batch_chunk_events:
                    await writes.submit(chunk)
                    chunk = []
        if chunk:
            await writes.submit(chunk)
        outcomes = await writes.wait()
    by_outcome: dict[Outcome, list[str]] = {o: [] for o in Outcome}
    for event, outcome in zip(fresh, outcomes, strict=True):
        by_outcome[outcome].append(event.event_id)
    if by_outcome[Outcome.ACCEPTED]:
        rt.wake_relay()
    type_of = {e.event_id: e.type.value for e in fresh}
    conflicts = by_outcome[Outcome.CONFLICT]
    rejected.extend(_Rejection(line_of[i], [_conflict_error(["event_id"])], type_of[i]) for i in conflicts)
    _count_by_type(client, [type_of[i] for i in by_outcome[Outcome.ACCEPTED]], "accepted")
    _count_by_type(client, [type_of[i] for i in by_outcome[Outcome.DUPLICATE]] + in_batch_duplicates, "duplicate")
    _count_by_type(client, [r.event_type for r in rejected], "rejected")
    return {
        "accepted": len(by_outcome[Outcome.ACCEPTED]),
        "duplicates": len(by_outcome[Outcome.DUPLICATE]) + len(in_batch_duplicates),
        "rejected": [{"line": r.line, "errors": r.errors} for r in sorted(rejected, key=lambda r: r.line)],
    }


@dataclass(frozen=True)
class _Rejection:
    """A rejected batch line; the event type only labels the metric."""

    line: int
    errors: ErrorList
    event_type: str


def _count_by_type(client: ApiClient, event_types: list[str], outcome: str) -> None:
    for event_type, amount in Counter(event_types).items():
        count_events(client.department, event_type, outcome, amount)


@router.get(
    "/events/{event_id}",
    openapi_extra=SECURITY,
    summary="An event posted by the caller's department and its processing status",
)
async def get_event(event_id: str, caller: CurrentCaller) -> dict[str, Any]:
    client, rt = caller.client, caller.rt
    async with rt.pool.acquire() as conn:
        row = await find_event(conn, client, event_id)
    if row is None:
        raise ApiError(404, f"no event {event_id} from department {client.department}", ["path", "event_id"])
    event = dict(row)
    event["payload"] = orjson.loads(event["payload"])
    return event


@router.put(
    "/households/{household_id}",
    openapi_extra=_JSON_BODY,
    summary="Create or replace one household's registry record (rural revitalization clients)",
)
async def put_household(household_id: str, request: Request, caller: RegistryCaller) -> dict[str, Any]:
    client, rt = caller.client, caller.rt
    now = now_utc()
    try:
        record = validate_household(parse_json(await request.body(), ["body"]), ["body"], household_id)
    except InvalidInput:
        count_events(client.department, REGISTRY, "rejected")
        raise
    changed = await _store_records(rt, client, [record], now)
    count_events(client.department, REGISTRY, "accepted" if changed else "duplicate")
    return {"household_id": household_id, "status": "accepted" if changed else "unchanged"}


@router.post(
    "/households:batch",
    openapi_extra=_NDJSON_BODY,
    summary="Registry records as NDJSON; good lines are kept, bad ones reported by line",
)
async def post_households_batch(request: Request, caller: RegistryCaller) -> dict[str, Any]:
    client, rt = caller.client, caller.rt
    now = now_utc()
    lines = ndjson_lines(await request.body(), rt.settings.batch_max_lines)
    rejected: list[dict[str, Any]] = []
    latest: dict[str, HouseholdRecordIn] = {}
    for number, raw in lines:
        try:
            record = validate_household(parse_json(raw, []), [])
        except InvalidInput as exc:
            rejected.append({"line": number, "errors": exc.errors})
            continue
        latest.pop(record.household_id, None)
        latest[record.household_id] = record  # the last line for a household wins
    changed = await _store_records(rt, client, list(latest.values()), now) if latest else set()
    count_events(client.department, REGISTRY, "accepted", len(changed))
    count_events(client.department, REGISTRY, "duplicate", len(latest) - len(changed))
    count_events(client.department, REGISTRY, "rejected", len(rejected))
    return {"accepted": len(changed), "unchanged": len(latest) - len(changed), "rejected": rejected}


async def _store_records(
    rt: IntakeRuntime, client: ApiClient, records: list[HouseholdRecordIn], now: datetime
) -> set[str]:
    async with rt.pool.acquire() as conn, conn.transaction():  # record, outbox row and quality issues
        records = await keep_assigned_grids(conn, records)
        changed = await store_households(
            conn, client, records, rt.settings.topic_household_events, now, rt.notify_external_relay
        )
        pepper = rt.settings.id_hash_pepper.get_secret_value()
        await record_issues(conn, [r for r in records if r.household_id in changed], pepper, now)
    if changed:
        rt.wake_relay()
    return changed

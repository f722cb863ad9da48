"""Intake routes: registry records and department events, single and NDJSON batch, and event status."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from fastapi import APIRouter, Path, Query, Request, Response

from safetynet_core.contracts import EVENT_TYPES, EventType, now_utc, to_timestamp
from safetynet_core.errors import ApiError
from safetynet_core.masking import mask_personal_data
from safetynet_core.openapi import error_responses
from safetynet_core.responses import JsonResponse
from safetynet_intake.clients import ApiClient
from safetynet_intake.deps import SECURITY, CurrentCaller, IntakeRuntime, RegistryCaller, authenticated_caller
from safetynet_intake.grids import keep_assigned_grids
from safetynet_intake.metrics import count_events
from safetynet_intake.quality import record_issues
from safetynet_intake.schemas import (
    EVENT_SCHEMA,
    EventAccepted,
    EventBatchResult,
    EventStatusOut,
    HouseholdAccepted,
    RegistryBatchResult,
    batch_body,
    event_body,
    event_example,
    registry_body,
)
from safetynet_intake.sealing import keep_id_numbers
from safetynet_intake.settings import Settings
from safetynet_intake.store import (
    EventRow,
    Outcome,
    PipelinedWrites,
    find_event,
    household_regions,
    store_households,
)
from safetynet_intake.tabular import (
    CSV,
    XLSX,
    Batch,
    csv_template,
    media_type_of,
    read_csv,
    read_xlsx,
    xlsx_template,
)
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

router = APIRouter(prefix="/v1", tags=["departments"])
REGISTRY = "registry_record"
_ACCEPTED = {"model": EventAccepted, "description": "Accepted: stored, and published to Kafka by the outbox relay"}
_DUPLICATE = {"model": EventAccepted, "description": "The same event_id with the same body again (`duplicate`)"}


def _conflict_error(loc: list[Any]) -> dict[str, Any]:
    return error_item(loc, "event_id was already used with a different body", "conflict")


def _forbidden_type(client: ApiClient, event: ValidEvent, loc: list[Any]) -> dict[str, Any] | None:
    event_type = event.type.value
    if event_type in client.event_types:
        return None
    return error_item(loc, f"client may not post {event_type} events", "forbidden")


def _outside_region(client: ApiClient, household_id: str, loc: list[Any]) -> dict[str, Any]:
    return error_item(loc, f"household {household_id} is not registered inside region {client.region}", "forbidden")


async def _households_outside(rt: IntakeRuntime, client: ApiClient, household_ids: set[str]) -> set[str]:
    """For a region-bound client: the households it may not write events for (unknown ones included)."""
    if client.region is None or not household_ids:
        return set()
    regions = await household_regions(rt.pool, list(household_ids))
    return {h for h in household_ids if not client.covers(regions.get(h, ""))}


async def post_event(request: Request) -> JsonResponse:
    """The hot path: authenticates by a direct call (no dependency); served by `hotpath.HotRouteMiddleware`,
    which calls it before the router could (the route is registered for its documentation)."""
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
    if forbidden is None and await _households_outside(rt, client, {event.household_id}):
        forbidden = _outside_region(client, event.household_id, ["body", "household_id"])
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
    response_model=EventAccepted,
    responses={200: _DUPLICATE, 202: _ACCEPTED, **error_responses(409, 429)},
    openapi_extra={**SECURITY, "requestBody": event_body()},
    summary="Post one department event (202 accepted, 200 duplicate, 409 conflict)",
    description="An event is kept once per (client, event_id): posting the same body again answers 200 with "
    "`duplicate: true`; a different body under a used event_id is a 409.",
)


@router.post(
    "/events:batch",
    response_model=EventBatchResult,
    responses=error_responses(429),
    openapi_extra={**SECURITY, "requestBody": batch_body(EVENT_SCHEMA, tabular=True)},
    summary="Post up to 10,000 events as NDJSON; good lines are kept, bad ones reported by line",
)
async def post_events_batch(request: Request, caller: CurrentCaller, file_type: BatchType = None) -> dict[str, Any]:
    client, rt = caller.client, caller.rt
    now = now_utc()
    received_ts = to_timestamp(now)
    batch = await _read_batch(request, rt.settings, file_type)
    rejected: list[_Rejection] = []
    fresh: list[ValidEvent] = []
    chunk: list[tuple[int, EventRow]] = []
    hash_of: dict[str, str] = {}
    line_of: dict[str, int] = {}
    in_batch_duplicates: list[str] = []
    async with (
        rt.pool.acquire() as conn,
        conn.transaction(),  # every accepted line, or none, with its outbox row
        PipelinedWrites(conn, rt.settings.topic_household_events, rt.notify_external_relay, len(batch.items)) as writes,
    ):

        async def flush() -> None:
            outside = await _households_outside(rt, client, {row.event.household_id for _, row in chunk})
            kept = []
            for number, row in chunk:
                if row.event.household_id in outside:
                    error = _outside_region(client, row.event.household_id, ["household_id"])
                    rejected.append(_Rejection(number, [error], row.event.type.value))
                else:
                    kept.append(row)
            chunk.clear()
            fresh.extend(row.event for row in kept)
            if kept:
                await writes.submit(kept)

        for number, raw in batch.items:
            try:
                event = validate_event(batch.parse(raw), [], now, rt.future_skew)
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
                chunk.append((number, EventRow.build(client, event, now, received_ts)))
                if len(chunk) == rt.settings.batch_chunk_events:
                    await flush()
        if chunk:
            await flush()
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
        "rejected": [batch.rejection(r.line, r.errors) for r in sorted(rejected, key=lambda r: r.line)],
    }


async def _read_batch(request: Request, settings: Settings, event_type: EventType | None) -> Batch:
    """NDJSON lines, or the rows of a CSV or XLSX file of one event type as event documents."""
    body = await request.body()
    media_type, charset = media_type_of(request.headers.get("content-type", ""))
    if media_type not in (CSV, XLSX):
        return Batch(ndjson_lines(body, settings.batch_max_lines), _json_line, tabular=False)
    if event_type is None:
        raise ApiError(422, "a CSV or XLSX batch names its event type: ?type=", ["query", "type"], "missing")
    zone = ZoneInfo(settings.local_timezone)
    if media_type == CSV:
        rows = await asyncio.to_thread(read_csv, body, event_type, settings.batch_max_lines, zone, charset)
    else:
        limits = (settings.batch_max_lines, zone, settings.batch_max_unpacked_bytes)
        rows = await asyncio.to_thread(read_xlsx, body, event_type, *limits)
    return Batch(rows, lambda document: document, tabular=True)


def _json_line(raw: Any) -> Any:
    return parse_json(raw, [])


BatchType = Annotated[
    EventType | None,
    Query(alias="type", description="the event type of every row of a CSV or XLSX batch (NDJSON lines name theirs)"),
]


@dataclass(frozen=True)
class _Rejection:
    """A rejected batch line; the event type only labels the metric."""

    line: int
    errors: ErrorList
    event_type: str


def _count_by_type(client: ApiClient, event_types: list[str], outcome: str) -> None:
    for event_type, amount in Counter(event_types).items():
        count_events(client.department, event_type, outcome, amount)


class _XlsxResponse(Response):
    media_type = XLSX


class _CsvResponse(Response):
    media_type = CSV


def _template_type(name: str) -> EventType:
    event_type = EVENT_TYPES.get(name)
    if event_type is None:
        raise ApiError(404, f"no event type {name}; known: {', '.join(EVENT_TYPES)}", ["path", "event_type"])
    return event_type


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


TemplateType = Annotated[str, Path(max_length=50, description="an event type, e.g. medical_expense")]


@router.get(
    "/templates/{event_type}.xlsx",
    response_class=_XlsxResponse,
    responses={200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}, **error_responses(429)},
    openapi_extra=SECURITY,
    summary="An XLSX template for a CSV/XLSX batch of one event type: header, field notes, an example row",
)
async def xlsx_template_file(event_type: TemplateType, caller: CurrentCaller) -> Response:
    chosen = _template_type(event_type)
    content = await asyncio.to_thread(xlsx_template, chosen, event_example(chosen))
    return _XlsxResponse(content, headers=_attachment(f"{chosen.value}.xlsx"))


@router.get(
    "/templates/{event_type}.csv",
    response_class=_CsvResponse,
    responses={200: {"content": {CSV: {"schema": {"type": "string"}}}}, **error_responses(429)},
    openapi_extra=SECURITY,
    summary="A CSV template (UTF-8 with BOM) for a batch of one event type: header and an example row",
)
async def csv_template_file(event_type: TemplateType, caller: CurrentCaller) -> Response:
    chosen = _template_type(event_type)
    return _CsvResponse(csv_template(chosen, event_example(chosen)), headers=_attachment(f"{chosen.value}.csv"))


@router.get(
    "/events/{event_id}",
    response_model=EventStatusOut,
    responses=error_responses(429),
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
    event["payload"] = mask_personal_data(orjson.loads(event["payload"]))
    return event


@router.put(
    "/households/{household_id}",
    response_model=HouseholdAccepted,
    responses=error_responses(429),
    openapi_extra={**SECURITY, "requestBody": registry_body()},
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
    changed, refused = await _store_records(rt, client, [record], now)
    if refused:
        count_events(client.department, REGISTRY, "rejected")
        raise ApiError(403, refused[household_id]["msg"], ["body", *refused[household_id]["loc"]])
    count_events(client.department, REGISTRY, "accepted" if changed else "duplicate")
    return {"household_id": household_id, "status": "accepted" if changed else "unchanged"}


@router.post(
    "/households:batch",
    response_model=RegistryBatchResult,
    responses=error_responses(429),
    openapi_extra={**SECURITY, "requestBody": batch_body(HouseholdRecordIn.__name__, tabular=False)},
    summary="Registry records as NDJSON; good lines are kept, bad ones reported by line",
)
async def post_households_batch(request: Request, caller: RegistryCaller) -> dict[str, Any]:
    client, rt = caller.client, caller.rt
    now = now_utc()
    lines = ndjson_lines(await request.body(), rt.settings.batch_max_lines)
    rejected: list[dict[str, Any]] = []
    latest: dict[str, HouseholdRecordIn] = {}
    line_of: dict[str, int] = {}
    for number, raw in lines:
        try:
            record = validate_household(parse_json(raw, []), [])
        except InvalidInput as exc:
            rejected.append({"line": number, "errors": exc.errors})
            continue
        latest.pop(record.household_id, None)
        latest[record.household_id] = record  # the last line for a household wins
        line_of[record.household_id] = number
    changed, refused = await _store_records(rt, client, list(latest.values()), now) if latest else (set(), {})
    rejected += [{"line": line_of[h], "errors": [error]} for h, error in refused.items()]
    rejected.sort(key=lambda r: r["line"])
    written = len(latest) - len(refused)
    count_events(client.department, REGISTRY, "accepted", len(changed))
    count_events(client.department, REGISTRY, "duplicate", written - len(changed))
    count_events(client.department, REGISTRY, "rejected", len(rejected))
    return {"accepted": len(changed), "unchanged": written - len(changed), "rejected": rejected}


async def _records_outside(
    conn: asyncpg.Connection, client: ApiClient, records: list[HouseholdRecordIn]
) -> dict[str, dict[str, Any]]:
    """For a region-bound client: the records it may not write (the record's region, or where the household
    is registered now, outside its region), each with its error."""
    if client.region is None:
        return {}
    stored = await household_regions(conn, [r.household_id for r in records])
    refused = {}
    for record in records:
        for region, loc in ((record.region_code, ["region_code"]), (stored.get(record.household_id), ["household_id"])):
            if region is not None and not client.covers(region):
                msg = f"client is bound to region {client.region}; household {record.household_id} is in {region}"
                refused[record.household_id] = error_item(loc, msg, "forbidden")
                break
    return refused


async def _store_records(
    rt: IntakeRuntime, client: ApiClient, records: list[HouseholdRecordIn], now: datetime
) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """Store the records the client may write; returns the ids that changed and the refused ones' errors."""
    async with rt.pool.acquire() as conn, conn.transaction():  # record, outbox row and quality issues
        refused = await _records_outside(conn, client, records)
        records = [r for r in records if r.household_id not in refused]
        if not records:
            return set(), refused
        records = await keep_assigned_grids(conn, records)
        changed = await store_households(
            conn, client, records, rt.settings.topic_household_events, now, rt.notify_external_relay
        )
        pepper = rt.settings.id_hash_pepper.get_secret_value()
        await record_issues(conn, [r for r in records if r.household_id in changed], pepper, now)
        await keep_id_numbers(conn, rt.sealer, records, changed)
    if changed:
        rt.wake_relay()
    return changed, refused

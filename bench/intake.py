"""Intake benchmarks.

B1: single-event POST /v1/events throughput at 64 connections against a bare FastAPI endpoint that only
    answers 202 (both served by uvicorn in their own process), plus p50/p99 at 16 and 64 connections;
    BENCH_B1_ROUNDS alternating rounds (default 3), the median round's ratio reported.
B2: 100,000 events through /v1/events:batch (10 requests of 10,000 lines) against a raw asyncpg COPY of
    the rows intake must write for them (the events rows and their outbox rows, one transaction per
    10,000) into the same table layout; a COPY of the events rows alone is reported next to it.

The bench starts its own intake process on a fresh schema and topic (the shared services are left
alone); the load generator is `wrk` (Debian package `wrk`), run as its own process.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI
from fastapi.responses import Response

from bench import procs
from bench.common import WRK_RESULT, WRK_THREAD_IDS, BenchResult
from safetynet_core import kafka
from safetynet_core.contracts import to_timestamp
from safetynet_core.db import migrate
from safetynet_core.testing import drop_schema
from safetynet_intake.clients import ApiClient, create_client
from safetynet_intake.info import SERVICE
from safetynet_intake.samples import medical_event
from safetynet_intake.settings import Settings
from safetynet_intake.store import EVENT_COPY_COLUMNS, OUTBOX_COPY_COLUMNS, EventRow, copy_rows
from safetynet_intake.validation import validate_event

WRK_DURATION_S = 10
WARMUP_S = 3
B1_ROUNDS = int(os.environ.get("BENCH_B1_ROUNDS", "3"))  # alternating bare/intake rounds; odd
BATCHES, BATCH_LINES = 10, 10_000

WRK_SCRIPT = WRK_THREAD_IDS + r"""
function init(args)
  prefix = args[1] .. "-" .. tid
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[2]}
end
function request()
  counter = counter + 1
  local body = string.format('{"event_id":"%s-%d","type":"medical_expense","household_id":"H%06d",'
    .. '"member_id":"M1","occurred_at":"2026-01-01T08:00:00+08:00","reference":"HIS-%d",'
    .. '"payload":{"total_cost_cny":30000,"out_of_pocket_cny":12000,"inpatient":true}}',
    prefix, counter, counter % 50000, counter)
  return wrk.format("POST", "/v1/events", headers, body)
end
""" + WRK_RESULT

BATCH_LOADER = r"""
import json, sys, time, httpx
url, key, *files = sys.argv[1:]
bodies = [open(f, "rb").read() for f in files]
headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}
accepted = 0
with httpx.Client(timeout=300) as client:
    started = time.perf_counter()
    for body in bodies:
        response = client.post(url + "/v1/events:batch", content=body, headers=headers)
        response.raise_for_status()
        accepted += response.json()["accepted"]
    elapsed = time.perf_counter() - started
print("RESULT " + json.dumps({"elapsed_s": elapsed, "accepted": accepted}))
"""


def bare_app() -> FastAPI:
    """The baseline: a FastAPI endpoint that only answers 202 (uvicorn --factory bench.intake:bare_app)."""
    app = FastAPI()

    @app.post("/v1/events", status_code=202)
    async def accept() -> Response:
        return Response(b'{"status":"accepted"}', status_code=202, media_type="application/json")

    return app


async def _run_result(*argv: str) -> dict[str, Any]:
    """Run a load-generator process and parse its `RESULT {json}` line."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    for line in out.decode().splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
            return result
    raise RuntimeError(f"{argv[0]} gave no result (exit {process.returncode}): {out.decode()[-2000:]}")


async def _wrk(url: str, script: Path, connections: int, seconds: int, api_key: str) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    result = await _run_result(
        wrk,
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "-s",
        str(script),
        url,
        "--",
        uuid.uuid4().hex[:12],
        api_key,
    )
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


async def _latency_profile(url: str, script: Path, api_key: str) -> dict[str, dict[str, Any]]:
    """A warm-up, then 16 and 64 connections."""
    await _wrk(url, script, 16, WARMUP_S, api_key)
    at16 = await _wrk(url, script, 16, WRK_DURATION_S, api_key)
    at64 = await _wrk(url, script, 64, WRK_DURATION_S, api_key)
    return {"c16": at16, "c64": at64}


def _bench_settings() -> Settings:
    suffix = uuid.uuid4().hex[:8]
    return Settings(
        db_schema=f"bench_intake_{suffix}",
        topic_household_events=f"bench.household-events.{suffix}",
        topic_partitions=12,
        intake_run_status_consumer=False,
    )


def _server_env(settings: Settings) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SAFETYNET_DB_SCHEMA": settings.db_schema or "",
        "SAFETYNET_TOPIC_HOUSEHOLD_EVENTS": settings.topic_household_events,
        "SAFETYNET_INTAKE_RUN_STATUS_CONSUMER": "false",
        "SAFETYNET_LOG_LEVEL": "WARNING",
    }


async def _new_key(settings: Settings, department: str = "medical_insurance") -> str:
    conn = await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": settings.db_schema or ""})
    try:
        return (await create_client(conn, department, "bench"))[1]
    finally:
        await conn.close()


async def bench_single_posts(settings: Settings, work: Path) -> BenchResult:
    """Both servers stay up; rounds alternate bare and intake so a slow spell of the machine hits both,
    and the reported ratio is the median round's."""
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT)
    api_key = await _new_key(settings)
    rounds: list[dict[str, dict[str, dict[str, Any]]]] = []
    async with (
        procs.uvicorn("bench.intake:bare_app", {}, "/docs") as bare,
        procs.uvicorn(SERVICE.app_factory, _server_env(settings)) as intake,
    ):
        for _ in range(B1_ROUNDS):
            rounds.append(
                {
                    "bare": await _latency_profile(bare.url, script, api_key),
                    "intake": await _latency_profile(intake.url, script, api_key),
                }
            )
        stored = await _count(settings, "select count(*) from events")
        await asyncio.sleep(2)  # let the relay finish the tail before the server stops
        backlog = await _count(settings, "select count(*) from outbox where published_at is null")
    ratios = [r["intake"]["c64"]["rps"] / r["bare"]["c64"]["rps"] for r in rounds]
    middle = sorted(range(len(rounds)), key=ratios.__getitem__)[len(rounds) // 2]
    median, ratio = rounds[middle], ratios[middle]
    p99_16_ms = statistics.median(r["intake"]["c16"]["p99_us"] for r in rounds) / 1000
    details = {
        "intake": {c: _summary(median["intake"][c]) for c in ("c16", "c64")},
        "bare": {c: _summary(median["bare"][c]) for c in ("c16", "c64")},
        "round_ratios": [round(r, 3) for r in ratios],
        "intake_p99_ms_at_16_median": p99_16_ms,
        "rounds": [{side: {c: _summary(r[side][c]) for c in ("c16", "c64")} for side in r} for r in rounds],
        "events_stored": stored,
        "outbox_backlog_at_end": backlog,
        "load_generator": "wrk -t2 (own process); intake runs its outbox relay in-process, as deployed",
    }
    return BenchResult(
        name="B1 intake single POST",
        description="POST /v1/events req/s at 64 connections vs a bare FastAPI 202 endpoint (median of rounds)",
        metric="req/s @64",
        value=median["intake"]["c64"]["rps"],
        baseline=median["bare"]["c64"]["rps"],
        ratio=ratio,
        goal="ratio >= 0.5 and intake p99 @16 <= 25 ms",
        met=ratio >= 0.5 and p99_16_ms <= 25,
        details=details,
    )


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "rps": round(result["rps"], 1),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "requests": result["requests"],
        "errors": result["socket_errors"] + result["bad_status"],
    }


async def _count(settings: Settings, query: str) -> int:
    conn = await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": settings.db_schema or ""})
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


def _batch_documents() -> list[list[dict[str, Any]]]:
    occurred = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    return [
        [
            medical_event(
                household_id=f"H{(b * BATCH_LINES + i) % 50_000:06d}",
                occurred_at=occurred,
                reference=f"HIS-{b}-{i}",
            )
            for i in range(BATCH_LINES)
        ]
        for b in range(BATCHES)
    ]


def _copy_rows(
    batches: list[list[dict[str, Any]]], topic: str
) -> list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Per batch, the events rows and their outbox rows (the values intake would publish), built up front."""
    client = ApiClient("cbench", "medical_insurance", "bench", frozenset({"medical_expense"}), False)
    received = datetime.now(UTC)
    received_ts = to_timestamp(received)
    rows = []
    for number, batch in enumerate(batches):
        events = [EventRow.build(client, validate_event(d, [], received, timedelta(minutes=5)), received, received_ts)
                  for d in batch]  # fmt: skip
        first_id = number * BATCH_LINES + 1
        rows.append(copy_rows(events, range(first_id, first_id + len(events)), topic))
    return rows


@asynccontextmanager
async def _copy_targets(settings: Settings) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Connection]]:
    """Connections to two more fresh schemas of intake's tables: one for the COPY of the events rows alone,
    one for the COPY of the events rows with their outbox rows (dropped afterwards)."""
    schemas = [f"{settings.db_schema}_copy_events", f"{settings.db_schema}_copy_all"]
    conns = []
    try:
        for schema in schemas:
            await asyncio.to_thread(migrate, settings, schema, SERVICE.migrations_dir)
            conns.append(await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": schema}))
        yield conns[0], conns[1]
    finally:
        for conn in conns:
            await conn.close()
        for schema in schemas:
            await drop_schema(settings.asyncpg_dsn, schema)


async def _timed_copy(conn: asyncpg.Connection, events: list[Any], outbox: list[Any] | None) -> float:
    started = time.perf_counter()
    async with conn.transaction():
        await conn.copy_records_to_table("events", records=events, columns=EVENT_COPY_COLUMNS)
        if outbox is not None:
            await conn.copy_records_to_table("outbox", records=outbox, columns=OUTBOX_COPY_COLUMNS)
    return time.perf_counter() - started


async def bench_batches(settings: Settings, work: Path) -> BenchResult:
    """Each batch request is followed by the COPYs of the same rows (one transaction each), so a slow spell of
    the shared machine hits both sides of a pair; the reported ratio is the median pair's."""
    batches = _batch_documents()
    rows = _copy_rows(batches, settings.topic_household_events)
    api_key = await _new_key(settings)
    pairs: list[dict[str, float]] = []
    accepted = 0
    async with (
        procs.uvicorn(SERVICE.app_factory, _server_env(settings)) as intake,
        _copy_targets(settings) as (events_only, events_and_outbox),
    ):
        for number, (batch, (events, outbox)) in enumerate(zip(batches, rows, strict=True)):
            path = work / f"batch{number}.ndjson"
            path.write_bytes(b"\n".join(orjson.dumps(d) for d in batch) + b"\n")
            loaded = await _run_result(sys.executable, "-c", BATCH_LOADER, intake.url, api_key, str(path))
            accepted += loaded["accepted"]
            pairs.append(
                {
                    "batch_s": loaded["elapsed_s"],
                    "copy_s": await _timed_copy(events_and_outbox, events, outbox),
                    "copy_events_only_s": await _timed_copy(events_only, events, None),
                }
            )
    ratios = sorted(p["copy_s"] / p["batch_s"] for p in pairs)
    ratio = statistics.median(ratios)
    batch_seconds, copy_seconds = (sum(p[k] for p in pairs) for k in ("batch_s", "copy_s"))
    copy_events_seconds = sum(p["copy_events_only_s"] for p in pairs)
    total = BATCHES * BATCH_LINES
    return BenchResult(
        name="B2 intake batch",
        description="100,000 events via 10 x 10k-line /v1/events:batch vs raw asyncpg COPY of the events and "
        "outbox rows intake writes for them (median of batch/COPY pairs)",
        metric="events/s",
        value=total / batch_seconds,
        baseline=total / copy_seconds,
        ratio=ratio,
        goal="ratio >= 0.5",
        met=ratio >= 0.5 and accepted == total,
        details={
            "accepted": accepted,
            "batch_seconds": round(batch_seconds, 3),
            "copy_events_and_outbox_seconds": round(copy_seconds, 3),
            "copy_events_only_seconds": round(copy_events_seconds, 3),
            "ratio_of_totals": round(copy_seconds / batch_seconds, 3),
            "ratio_vs_copy_events_only": round(copy_events_seconds / batch_seconds, 3),
            "pair_ratios": [round(r, 3) for r in ratios],
            "note": "the batch path validates, hashes and builds the protobuf outbox values, and streams the rows "
            "into a COPY (events) while it validates, then COPYs the outbox rows, in the request's transaction; "
            "the relay publishes concurrently in-process",
        },
    )


async def run(stack: dict[str, str]) -> list[BenchResult]:
    """Both intake benchmarks, each on its own fresh schema and topic, dropped afterwards."""
    results = []
    for bench in (bench_single_posts, bench_batches):
        settings = _bench_settings()
        await asyncio.to_thread(migrate, settings, settings.db_schema or "", SERVICE.migrations_dir)
        await kafka.ensure_topics(settings, [settings.topic_household_events])
        try:
            with tempfile.TemporaryDirectory(prefix="bench-intake-") as work:
                results.append(await bench(settings, Path(work)))
        finally:
            await drop_schema(settings.asyncpg_dsn, settings.db_schema or "")
            await kafka.delete_topics(settings, [settings.topic_household_events])
    return results


if __name__ == "__main__":
    for result in asyncio.run(run({})):
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))

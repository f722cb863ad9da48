"""Intake (every route is walked in test_route_walk.py): hashed keys, granted event types only, per-client rate limits,
413 before an oversized body is read, and ID numbers masked in the logs of a registry-to-risk flow."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from safetynet_core.testing import eventually, unique
from safetynet_intake.samples import household_record, medical_event, ndjson
from safetynet_risk.info import SERVICE as RISK
from safetynet_risk.main import create_app as create_risk
from safetynet_risk.settings import Settings as RiskSettings
from tests.security.conftest import StartService
from tests.security.support import (
    OTHER_VILLAGE,
    VILLAGE,
    Running,
    token_for,
)

pytestmark = pytest.mark.integration
UNMASKED_ID = re.compile(r"(?<![\d*])\d{17}[\dXx](?![\d*])")


async def test_api_keys_are_stored_hashed(intake: Running) -> None:
    key = (await intake.intake_key("medical_insurance"))["Authorization"].removeprefix("Bearer ")
    [stored] = await intake.db.fetch("select key_hash from api_clients")
    assert stored["key_hash"].startswith("$argon2id$") and key not in stored["key_hash"]
    secret = key.split("_", 2)[2]
    assert secret not in str(await intake.db.fetch("select * from api_clients"))


async def test_a_department_key_cannot_post_event_types_it_was_not_granted(intake: Running) -> None:
    medical = await intake.intake_key("medical_insurance")
    narrow = await intake.intake_key("civil_affairs", ["grid_report"])
    forbidden: dict[str, Any] = {"type": "housing_safety", "payload": {"rating": "D"}}
    for headers, event in ((medical, forbidden), (narrow, {"type": "medical_expense"})):
        response = await intake.http.post("/v1/events", headers=headers, json=medical_event(**event))
        assert response.status_code == 403, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "type"]
    batch = await intake.http.post(
        "/v1/events:batch",
        headers={**medical, "Content-Type": "application/x-ndjson"},
        content=ndjson(medical_event(**forbidden), medical_event(**forbidden)),
    )
    assert batch.status_code == 200 and batch.json()["accepted"] == 0 and len(batch.json()["rejected"]) == 2
    registry = await intake.http.put(f"/v1/households/{unique('H')}", headers=medical, json=household_record())
    assert registry.status_code == 403
    assert await intake.db.fetchval("select count(*) from events") == 0


async def test_each_client_is_rate_limited_with_retry_after(intake: Running) -> None:
    """The fixture allows a burst of 20 at 5 requests/s per client."""
    first, second = await intake.intake_key("medical_insurance"), await intake.intake_key("medical_insurance")
    statuses = [(await intake.http.get(f"/v1/events/{uuid.uuid4()}", headers=first)).status_code for _ in range(25)]
    assert statuses[:20] == [404] * 20 and 429 in statuses[20:]
    limited = await intake.http.get(f"/v1/events/{uuid.uuid4()}", headers=first)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["detail"][0]["type"] == "rate_limited"
    assert (await intake.http.get(f"/v1/events/{uuid.uuid4()}", headers=second)).status_code == 404
    await eventually(
        lambda: _status_is(intake, first, 404), timeout=float(limited.headers["Retry-After"]) + 5, message="refilled"
    )
    assert "safetynet_rate_limited_total" in (await intake.http.get("/metrics")).text


async def _status_is(intake: Running, headers: dict[str, str], status: int) -> bool:
    return (await intake.http.get(f"/v1/events/{uuid.uuid4()}", headers=headers)).status_code == status


async def test_an_oversized_chunked_body_gets_413_before_it_is_read_whole(intake: Running) -> None:
    key = (await intake.intake_key("medical_insurance"))["Authorization"]
    limit = intake.settings.max_body_bytes
    total = 64 * limit
    host = urlsplit(intake.url)
    reader, writer = await asyncio.open_connection(host.hostname, host.port)
    writer.write(
        f"POST /v1/events HTTP/1.1\r\nHost: {host.netloc}\r\nAuthorization: {key}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    sent, chunk, status_line = 0, b"x" * 65536, b""
    started = time.monotonic()
    # Stream until the server answers; look for the answer between chunks (writing on after the server
    # has closed would reset the connection and discard the answer).
    while sent < total and not status_line:
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        await writer.drain()
        sent += len(chunk)
        with contextlib.suppress(TimeoutError):
            status_line = await asyncio.wait_for(reader.readexactly(12), timeout=0.02)
    head = await asyncio.wait_for(reader.read(65536), timeout=10)
    writer.close()
    sent_when_answered = sent
    assert status_line == b"HTTP/1.1 413", status_line
    assert b'"payload_too_large"' in head
    assert sent_when_answered < total / 4, f"server read {sent_when_answered} of {total} bytes first"
    assert time.monotonic() - started < 30
    declared = await intake.http.post(
        "/v1/events", headers={"Authorization": key, "Content-Length": str(limit + 1)}, content=b"x" * (limit + 1)
    )
    assert declared.status_code == 413 and declared.json()["detail"][0]["loc"] == ["body"]


async def test_id_numbers_are_masked_in_the_logs_of_a_full_flow(
    intake: Running, start_service: StartService, capfd: pytest.CaptureFixture[str]
) -> None:
    """Registry records and events carrying ID numbers go through intake and risk (debug logging); no
    unmasked 18-character ID number is written by either."""
    topics = {
        k: getattr(intake.settings, k)
        for k in ("topic_household_events", "topic_risk_assessments", "topic_case_events")
    }
    ids = ["610327198001011234", "61032720100202123X", "610327195505050011"]
    registry = await intake.intake_key("rural_revitalization")
    grid = await intake.intake_key("grid")
    async with start_service(
        RISK, RiskSettings, create_risk, consumer_group=unique("risk"), log_level="DEBUG", **topics
    ) as risk:
        household = unique("H")
        record = household_record(household)
        record["members"][0]["id_number"], record["members"][1]["id_number"] = ids[0], ids[1]
        assert (await intake.http.put(f"/v1/households/{household}", headers=registry, json=record)).status_code == 200
        bad = {**record, "members": [{**record["members"][0], "id_number": ids[2] + "9"}]}
        rejected = await intake.http.put(f"/v1/households/{household}", headers=registry, json=bad)
        assert rejected.status_code == 422 and ids[2] not in rejected.text
        report = medical_event(
            household,
            type="grid_report",
            payload={"risk_types": ["illness"], "notes": f"head {ids[0]} asked, son {ids[1]}"},
        )
        response = await intake.http.post("/v1/events", headers=grid, json=report)
        assert response.status_code == 202, response.text
        viewer = token_for(risk.settings, "county_officer", VILLAGE[:6])

        async def assessed() -> Any:
            # The registry record is scored first; wait for the assessment the grid report triggered.
            answer = await risk.http.get(f"/v1/households/{household}/risk", headers=viewer)
            return answer.status_code == 200 and report["event_id"] in answer.text and answer.json()

        latest = await eventually(assessed, timeout=45, message="the grid report was assessed")
        assert latest["household_id"] == household
        outsider = token_for(risk.settings, "village_cadre", OTHER_VILLAGE)
        assert (await risk.http.get(f"/v1/households/{household}/risk", headers=outsider)).status_code == 404
    logs = "".join(capfd.readouterr())
    assert household in logs or "assess" in logs, "the flow wrote no logs to check"
    leaked = UNMASKED_ID.findall(logs)
    assert not leaked, f"unmasked ID numbers in the logs: {sorted(set(leaked))}"

"""docs/INTEGRATION.md runs as written: every Python block, in order, against an intake and a notify served
in-process (real Postgres and Kafka); every JSON block parses and the event envelope shown is a valid
event; webhook deliveries signed by notify pass the guide's own signature check, a tampered one fails it."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from safetynet_core import contracts, kafka
from safetynet_core.auth import Principal, Role, issue_token
from safetynet_core.settings import REPO_ROOT
from safetynet_core.testing import eventually, serve, unique
from safetynet_intake.clients import ApiClient, create_client
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_intake.main import create_app as create_intake
from safetynet_intake.messages import registry_record_message
from safetynet_intake.samples import household_record
from safetynet_intake.settings import Settings as IntakeSettings
from safetynet_intake.validation import TYPED_EVENT, HouseholdRecordIn
from safetynet_notify.info import SERVICE as NOTIFY
from safetynet_notify.main import create_app as create_notify
from safetynet_notify.settings import Settings as NotifySettings

pytestmark = pytest.mark.integration
GUIDE = REPO_ROOT / "docs" / "INTEGRATION.md"
HOUSEHOLD = "H610327101201042"
VILLAGE = "610327101201"
SECRET = "guide-webhook-secret-0123456789"


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), flags=re.S | re.M)


def registry(household: str, members: int) -> bytes:
    record = household_record(household)
    template = record["members"][0]
    record["members"] = [
        {**template, "member_id": f"{household}-{n:02d}", "id_number": f"61032719800101{n:03d}1"}
        for n in range(1, members + 1)
    ]
    record["head_member_id"] = record["members"][0]["member_id"]
    client = ApiClient("guide", "rural_revitalization", "registry", frozenset(), True)
    return registry_record_message(client, HouseholdRecordIn.model_validate(record), unique("r"), contracts.now_utc())


def case_event(name: str, case_id: str, household: str, details: dict[str, Any]) -> bytes:
    event = contracts.CaseEventMessage(
        schema_version=contracts.SCHEMA_VERSION,
        event_key=unique(name),
        name=name,
        case_id=case_id,
        household_id=household,
        region_code=VILLAGE,
        step=str(details.get("to", "screen")),
        details=contracts.to_struct(details),
    )
    event.occurred_at.CopyFrom(contracts.to_timestamp(contracts.now_utc()))
    return event.SerializeToString()


async def include(settings: NotifySettings, household: str, members: int) -> str:
    """A registry record and a case reaching the assistance step, on the topics notify reads."""
    case_id = f"C{uuid.uuid4().hex[:16]}"
    producer = kafka.make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic_household_events, registry(household, members), key=household.encode()
        )
        for name, details in (
            ("case.opened", {"category": "marginal"}),
            (
                "case.step_changed",
                {"from": "verify", "to": "assist", "category": "marginal", "risk_types": ["illness"]},
            ),
        ):
            await producer.send_and_wait(
                settings.topic_case_events, case_event(name, case_id, household, details), key=household.encode()
            )
    finally:
        await producer.stop()
    return case_id


def test_every_json_block_parses_and_the_envelope_is_a_valid_event() -> None:
    documents = [orjson.loads(block) for block in blocks("json")]
    assert documents
    for document in documents:
        if "type" in document:
            TYPED_EVENT.validate_python(document)


async def test_the_guide_runs_as_written(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    deliveries: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: Request) -> JSONResponse:
        deliveries.append((dict(request.headers), await request.body()))
        return JSONResponse({"ok": True})

    topics = {k: f"test.{k}.{uuid.uuid4().hex[:8]}" for k in ("household-events", "risk-assessments", "case-events")}
    shared = {
        "topic_household_events": topics["household-events"],
        "topic_risk_assessments": topics["risk-assessments"],
        "topic_case_events": topics["case-events"],
    }
    intake_settings = await provision(isolated_settings(IntakeSettings, **shared), INTAKE)
    notify_settings: NotifySettings = await provision(
        isolated_settings(
            NotifySettings,
            **shared,
            consumer_group=unique("notify"),
            delivery_poll_seconds=0.1,
            notify_allowed_networks="127.0.0.0/8",  # the guide's receiver is on loopback
        ),
        NOTIFY,
    )
    conn = await asyncpg.connect(
        intake_settings.asyncpg_dsn, server_settings={"search_path": intake_settings.db_schema}
    )
    try:
        _, api_key = await create_client(conn, "medical_insurance", "guide")
    finally:
        await conn.close()
    notify_db = await asyncpg.connect(
        notify_settings.asyncpg_dsn, server_settings={"search_path": notify_settings.db_schema or ""}
    )

    async def changes() -> int:
        return int(await notify_db.fetchval("select count(*) from exchange_changes"))

    def token(role: Role, department: str | None = None) -> str:
        return issue_token(notify_settings, Principal(unique("u"), role, "610327", department))

    namespace: dict[str, Any] = {"__name__": "integration_guide"}
    try:
        async with (
            serve(create_intake(intake_settings)) as intake_url,
            serve(create_notify(notify_settings)) as notify_url,
            serve(Starlette(routes=[Route("/hook", receive, methods=["POST"])])) as hook_url,
        ):
            await include(notify_settings, HOUSEHOLD, 3)
            await eventually(changes, message="the household's exchange records")
            for name, value in {
                "INTAKE_URL": intake_url,
                "NOTIFY_URL": notify_url,
                "SAFETYNET_API_KEY": api_key,
                "SAFETYNET_TOKEN": token(Role.DEPARTMENT_OFFICER, "medical_insurance"),
                "SAFETYNET_COUNTY_TOKEN": token(Role.COUNTY_OFFICER),
                "WEBHOOK_URL": f"{hook_url}/hook",
                "WEBHOOK_SECRET": SECRET,
            }.items():
                monkeypatch.setenv(name, value)
            code = blocks("python")
            assert len(code) >= 10

            def run_guide() -> None:
                for number, block in enumerate(code, start=1):
                    exec(compile(block, f"{GUIDE.name} python block {number}", "exec"), namespace)  # noqa: S102 (the guide)

            await asyncio.to_thread(run_guide)

            async def gap_found() -> bool:  # the guide's insurance report, through intake and household-events
                query = "select count(*) from exchange_changes where record->>'change' = 'coverage_gap'"
                return int(await notify_db.fetchval(query)) == 1

            await eventually(gap_found, message="the reported coverage gap in the feed")
            second = "H610327101201077"
            await include(notify_settings, second, 2)

            def included() -> list[dict[str, Any]]:
                pushed = [(h, b) for h, b in deliveries if h["x-safetynet-event"].startswith("exchange.")]
                records = [namespace["handle_delivery"](headers, body) for headers, body in pushed]
                return [r for r in records if r["change"] == "included"]

            await eventually(lambda: _async(len(included()) >= 2), message="pushes to the guide's webhook")
    finally:
        await notify_db.close()

    pushed = [(h, b) for h, b in deliveries if h["x-safetynet-event"].startswith("exchange.")]
    records = included()
    assert {r["household_id"] for r in records} == {second} and len(records) == 2
    headers, body = next((h, b) for h, b in pushed if second.encode() in b)
    with pytest.raises(PermissionError):
        namespace["handle_delivery"](headers, body.replace(second.encode(), HOUSEHOLD.encode()))


async def _async(value: bool) -> bool:
    return value

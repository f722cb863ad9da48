"""Outbound exchange on the real Kafka and Postgres: civil affairs receives a newly included household
(a real HTTP receiver, signature verified) with only the permitted fields, and pulls the same record
with the access recorded."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from safetynet_core import contracts, kafka
from safetynet_core.auth import Principal, Role, issue_token
from safetynet_core.testing import eventually, serve, unique
from safetynet_notify.info import SERVICE
from safetynet_notify.main import create_app
from safetynet_notify.settings import Settings

pytestmark = pytest.mark.integration
VILLAGE = "610327101201"
SECRET = "civil-affairs-shared-secret-0001"
FIELDS = {"household_id", "region_code", "category", "risk_types", "included_at"}


def token(settings: Settings, role: Role, region: str, department: str | None = None) -> dict[str, str]:
    principal = Principal(subject=f"{role.value}-{region}", role=role, region=region, department=department)
    return {"Authorization": f"Bearer {issue_token(settings, principal)}"}


def case_event(name: str, case_id: str, step: str, details: dict[str, Any]) -> contracts.CaseEventMessage:
    event = contracts.CaseEventMessage(
        schema_version=contracts.SCHEMA_VERSION,
        event_key=f"{case_id}:{name}:{uuid.uuid4().hex[:6]}",
        name=name,
        case_id=case_id,
        household_id=f"H{VILLAGE}042",
        region_code=VILLAGE,
        step=step,
        status={"screen": "screening", "assist": "assisting"}[step],
        details=contracts.to_struct(details),
    )
    event.occurred_at.CopyFrom(contracts.to_timestamp(contracts.now_utc()))
    return event


async def test_civil_affairs_receives_and_pulls_newly_included_households(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append((dict(request.headers), await request.body()))
        return JSONResponse({"ok": True})

    receiver = Starlette(routes=[Route("/minimum-living", hook, methods=["POST"])])
    settings: Settings = await provision(
        isolated_settings(
            Settings,
            consumer_group=unique("notify"),
            delivery_poll_seconds=0.1,
            delivery_backoff_base_seconds=0.05,
            notify_allowed_networks="127.0.0.0/8",  # the receiver is on loopback
        ),
        SERVICE,
    )
    county = token(settings, Role.COUNTY_OFFICER, "610327")
    officer = token(settings, Role.DEPARTMENT_OFFICER, "610327", "civil_affairs")
    async with (
        serve(receiver) as hook_url,
        serve(create_app(settings)) as url,
        httpx.AsyncClient(timeout=10) as http,
    ):
        subscribe = {
            "department": "civil_affairs",
            "purpose": "minimum_living_allowance_check",
            "region_prefix": "610327",
        }
        push = await http.post(
            f"{url}/v1/exchange/subscriptions",
            json={**subscribe, "mode": "push", "url": f"{hook_url}/minimum-living", "secret": SECRET},
            headers=county,
        )
        assert push.status_code == 201, push.text
        assert set(push.json()["fields"]) == FIELDS
        pull_sub = await http.post(
            f"{url}/v1/exchange/subscriptions", json={**subscribe, "mode": "pull"}, headers=county
        )
        assert pull_sub.status_code == 201, pull_sub.text
        wrong = await http.post(
            f"{url}/v1/exchange/subscriptions",
            json={**subscribe, "department": "education", "mode": "pull"},
            headers=county,
        )
        assert wrong.status_code == 422
        education = await http.post(
            f"{url}/v1/exchange/subscriptions",
            json={"department": "education", "purpose": "school_age_members", "mode": "pull"},
            headers=county,
        )
        assert education.status_code == 422 and "members" in education.text
        assert (
            await http.post(
                f"{url}/v1/exchange/subscriptions",
                json={**subscribe, "mode": "pull"},
                headers=token(settings, Role.DEPARTMENT_OFFICER, "610327", "civil_affairs"),
            )
        ).status_code == 403

        producer = kafka.make_producer(settings)
        await producer.start()
        try:
            case_id = f"C-{uuid.uuid4().hex[:8]}"
            opened = case_event(
                "case.opened", case_id, "screen", {"level": "high", "category": "marginal", "reopened": False}
            )
            to_verify = case_event("case.step_changed", case_id, "screen", {"from": "screen", "to": "verify"})
            included = case_event("case.step_changed", case_id, "assist", {"from": "verify", "to": "assist"})
            for event in (opened, to_verify, included, included):  # the inclusion redelivered
                await producer.send_and_wait(
                    settings.topic_case_events, event.SerializeToString(), key=event.household_id.encode()
                )
        finally:
            await producer.stop()

        await eventually(lambda: _async(len(received) >= 1), timeout=30, message="exchange webhook received")
        headers, body = received[0]
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-safetynet-signature"], expected)
        assert headers["x-safetynet-event"] == "exchange.minimum_living_allowance_check"
        pushed = json.loads(body)
        assert pushed["purpose"] == "minimum_living_allowance_check"
        record = pushed["record"]
        assert set(record) == FIELDS
        assert record["household_id"] == f"H{VILLAGE}042" and record["region_code"] == VILLAGE
        assert record["category"] == "marginal"
        assert record["risk_types"] is None  # not on the case-events topic yet (see exchange.py)

        pulled = await http.get(
            f"{url}/v1/exchange/minimum_living_allowance_check/changes", params={"since": 0}, headers=officer
        )
        assert pulled.status_code == 200, pulled.text
        [change] = pulled.json()["changes"]
        assert change["record"] == record and change["change_id"] == pushed["change_id"]
        assert pulled.json()["next_since"] == change["change_id"]
        empty = await http.get(
            f"{url}/v1/exchange/minimum_living_allowance_check/changes",
            params={"since": change["change_id"]},
            headers=officer,
        )
        assert empty.json()["changes"] == []
        assert len(received) == 1  # the redelivered inclusion was not pushed twice

        for denied in (
            token(settings, Role.DEPARTMENT_OFFICER, "610327", "education"),
            token(settings, Role.COUNTY_OFFICER, "610327"),
        ):
            response = await http.get(f"{url}/v1/exchange/minimum_living_allowance_check/changes", headers=denied)
            assert response.status_code == 403
        elsewhere = token(settings, Role.DEPARTMENT_OFFICER, "610328", "civil_affairs")
        assert (
            await http.get(f"{url}/v1/exchange/minimum_living_allowance_check/changes", headers=elsewhere)
        ).status_code == 403  # no subscription covers that county

        log = await http.get(f"{url}/v1/exchange/access", headers=county)
        assert log.status_code == 200, log.text
        entries = [(e["mode"], e["actor"], e["records"], e["department"]) for e in log.json()]
        assert ("pull", "department_officer-610327", 1, "civil_affairs") in entries
        assert ("pull", "department_officer-610327", 0, "civil_affairs") in entries
        assert ("push", push.json()["subscription_id"], 1, "civil_affairs") in entries
        assert all(e["at"] for e in log.json())


async def _async(value: bool) -> bool:
    return value

"""Notify (issue 20, SSRF): subscription URLs that resolve to inside addresses are refused (422 naming the
field) and checked again at delivery; redirects are not followed; receivers' bodies are never stored or
shown. Only loopback receivers exist here; other host names go through a stub resolver and are never sent to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from safetynet_core import contracts, kafka
from safetynet_core.testing import eventually, serve, unique
from safetynet_notify.info import SERVICE
from safetynet_notify.main import create_app
from safetynet_notify.settings import Settings
from tests.security.support import VILLAGE, token_for

pytestmark = pytest.mark.integration
PUBLIC = "93.184.216.34"
BODY_SECRET = "internal-only page: db password hunter2"


@dataclass
class Receiver:
    """A loopback endpoint answering with `answers` in turn (then 200), with a body that must never surface."""

    answers: list[Response] = field(default_factory=list)
    received: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.received.append(dict(request.headers))
            return self.answers.pop(0) if self.answers else PlainTextResponse(BODY_SECRET)

        return Starlette(routes=[Route("/{path:path}", hook, methods=["POST", "GET"])])


@dataclass
class StubDns:
    """Host name → addresses, changeable between lookups (a rebinding DNS)."""

    answers: dict[str, list[str]] = field(default_factory=dict)

    async def __call__(self, host: str, port: int) -> list[str]:
        if host not in self.answers:
            raise OSError(f"{host} not found")
        return self.answers[host]


@asynccontextmanager
async def notify(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any], dns: StubDns, **overrides: Any
) -> AsyncIterator[tuple[Settings, httpx.AsyncClient, dict[str, str]]]:
    settings: Settings = await provision(
        isolated_settings(
            Settings, consumer_group=unique("notify"), delivery_poll_seconds=0.1, delivery_max_attempts=2,
            delivery_backoff_base_seconds=0.05, delivery_backoff_max_seconds=0.1, **overrides,
        ),
        SERVICE,
    )  # fmt: skip
    async with serve(create_app(settings, resolver=dns)) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        yield settings, http, token_for(settings, "county_officer", VILLAGE[:6])


async def publish(settings: Settings, name: str, case_id: str) -> None:
    event = contracts.CaseEventMessage(
        schema_version=contracts.SCHEMA_VERSION, event_key=f"{case_id}:{name}", name=name, case_id=case_id,
        household_id=f"H{VILLAGE}1", region_code=VILLAGE, step="screen", status="screening",
    )  # fmt: skip
    event.occurred_at.CopyFrom(contracts.to_timestamp(contracts.now_utc()))
    producer = kafka.make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic_case_events, event.SerializeToString(), key=b"H")
    finally:
        await producer.stop()


def subscription(url: str) -> dict[str, Any]:
    return {"url": url, "secret": "s3cret-for-the-test-hook", "events": ["case.opened"], "region_prefix": "610327"}


async def finished(http: httpx.AsyncClient, county: dict[str, str], case_id: str) -> list[dict[str, Any]]:
    answer = await http.get("/v1/deliveries", params={"case_id": case_id}, headers=county)
    done = [d for d in answer.json()["deliveries"] if d["status"] in ("sent", "dead")]
    return done


async def test_inside_addresses_are_refused_at_subscription(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    """The finding: a county officer could point a webhook at 127.0.0.1, a private or the metadata address."""
    dns = StubDns({"hooks.example.org": [PUBLIC], "intranet.example.org": ["10.1.2.3"], "localhost": ["127.0.0.1"],
                   "dual.example.org": [PUBLIC, "127.0.0.1"]})  # fmt: skip
    async with notify(isolated_settings, provision, dns) as (_, http, county):
        inside = [
            "http://127.0.0.1:8003/v1/tasks", "http://localhost:8001/", "http://10.0.0.5/", "http://[::1]:8002/",
            "http://169.254.169.254/latest/meta-data/", "http://intranet.example.org/", "http://dual.example.org/",
            "http://unknown.example.org/", "http://[::ffff:7f00:1]/", "http://224.0.0.1/", "http://0.0.0.0:8004/",
        ]  # fmt: skip
        for url in inside:
            refused = await http.post("/v1/subscriptions", headers=county, json=subscription(url))
            assert refused.status_code == 422, (url, refused.text)
            assert refused.json()["detail"][0]["loc"] == ["body", "url"], url
            push = {"department": "civil_affairs", "purpose": "minimum_living_allowance_check", "mode": "push",
                    "url": url, "secret": "s3cret-for-the-test-hook", "region_prefix": "610327"}  # fmt: skip
            exchange = await http.post("/v1/exchange/subscriptions", headers=county, json=push)
            assert exchange.status_code == 422 and exchange.json()["detail"][0]["loc"] == ["body", "url"], url
        accepted = await http.post("/v1/subscriptions", headers=county, json=subscription("https://hooks.example.org/"))
        assert accepted.status_code == 201, accepted.text


async def test_addresses_are_checked_again_at_delivery(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    """A name that resolved outside when subscribed and to loopback at delivery time is not sent to, nor is
    a stored URL (from before the check) that points inside."""
    receiver, dns = Receiver(), StubDns({"rebind.example.org": [PUBLIC]})
    async with serve(receiver.app()) as hook_url, notify(isolated_settings, provision, dns) as (settings, http, county):
        port = int(hook_url.rsplit(":", 1)[1])
        created = await http.post(
            "/v1/subscriptions", headers=county, json=subscription(f"http://rebind.example.org:{port}/in")
        )
        assert created.status_code == 201, created.text
        dns.answers["rebind.example.org"] = ["127.0.0.1"]
        case_id = unique("C")
        await publish(settings, "case.opened", case_id)
        (delivery,) = await eventually(lambda: finished(http, county, case_id), message="delivery settled")
        assert delivery["status"] == "dead" and delivery["last_error"].startswith("address refused")
        assert receiver.received == []


async def test_redirects_are_not_followed_and_receiver_bodies_never_surface(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    """The finding: GET /v1/deliveries showed 200 characters of the receiver's reply."""
    receiver, target = Receiver(), Receiver()
    async with (
        serve(receiver.app()) as hook_url,
        serve(target.app()) as target_url,
        notify(isolated_settings, provision, StubDns(), notify_allowed_networks="127.0.0.0/8") as (
            settings, http, county,
        ),
    ):  # fmt: skip
        receiver.answers = [PlainTextResponse(BODY_SECRET, status_code=500),
                            Response(status_code=307, headers={"Location": f"{target_url}/stolen"})]  # fmt: skip
        created = await http.post("/v1/subscriptions", headers=county, json=subscription(f"{hook_url}/in"))
        assert created.status_code == 201, created.text
        case_id = unique("C")
        await publish(settings, "case.opened", case_id)
        (delivery,) = await eventually(lambda: finished(http, county, case_id), message="delivery settled")
        assert delivery["status"] == "dead" and delivery["attempts"] == 2
        assert [a["error"] for a in delivery["attempt_log"]] == ["HTTP 500", "HTTP 307 (redirect not followed)"]
        assert target.received == []  # the redirect was not followed
        listed = await http.get("/v1/deliveries", params={"case_id": case_id}, headers=county)
        assert "hunter2" not in listed.text
        conn = await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": settings.db_schema})
        try:
            stored = str(await conn.fetch("select * from deliveries"))
            stored += str(await conn.fetch("select * from delivery_attempts"))
        finally:
            await conn.close()
        assert "hunter2" not in stored
        headers = receiver.received[0]
        assert {"webhook-id", "webhook-timestamp", "webhook-signature", "x-safetynet-signature"} <= set(headers)
        assert headers["webhook-signature"].startswith("v1,")

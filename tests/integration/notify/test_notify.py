"""Notify against the real pieces: Kafka, Postgres, an aiosmtpd mailbox and HTTP receivers started here."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiosmtpd.controller import Controller
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from safetynet_core import contracts, kafka
from safetynet_core.auth import Principal, Role, issue_token
from safetynet_core.testing import eventually, free_port, serve, unique
from safetynet_notify.directory import upsert_recipient
from safetynet_notify.info import SERVICE
from safetynet_notify.main import create_app
from safetynet_notify.settings import Settings

pytestmark = pytest.mark.integration

VILLAGE = "610327101201"
ID_NUMBER = "610327199001011234"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Receiver:
    """An HTTP endpoint recording every POST; answers with queued statuses, then 200."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """Bodies of the requests answered 200."""
        return [json.loads(body) for headers, body in self.received if headers["x-answer"] == "200"]

    def app(self) -> Starlette:
        async def hook(request: Request) -> JSONResponse:
            status = self.statuses.pop(0) if self.statuses else 200
            headers = dict(request.headers)
            headers["x-answer"] = str(status)
            self.received.append((headers, await request.body()))
            return JSONResponse({"ok": status == 200}, status_code=status)

        return Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])


class Mailbox:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


@dataclass
class Harness:
    settings: Settings
    url: str
    client: httpx.AsyncClient
    producer: Any
    hook: Receiver
    sms: Receiver

    def token(self, role: Role, region: str) -> dict[str, str]:
        token = issue_token(
            self.settings, Principal(subject=f"{role.value}-{region}", role=role, region=region)
        )
        return {"Authorization": f"Bearer {token}"}

    async def subscribe(self, url: str, events: list[str], secret: str = "s3cret-for-the-test-hook") -> None:
        response = await self.client.post(
            f"{self.url}/v1/subscriptions",
            json={"url": url, "secret": secret, "events": events, "region_prefix": "610327"},
            headers=self.token(Role.COUNTY_OFFICER, "610327"),
        )
        assert response.status_code == 201, response.text

    async def publish(self, event: contracts.CaseEventMessage | bytes) -> None:
        value = event if isinstance(event, bytes) else event.SerializeToString()
        key = b"poison" if isinstance(event, bytes) else event.household_id.encode()
        await self.producer.send_and_wait(self.settings.topic_case_events, value, key=key)

    async def deliveries(self, case_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"{self.url}/v1/deliveries",
            params={"case_id": case_id},
            headers=self.token(Role.COUNTY_OFFICER, "610327"),
        )
        assert response.status_code == 200, response.text
        deliveries: list[dict[str, Any]] = response.json()["deliveries"]
        return deliveries


def case_event(
    name: str,
    *,
    case_id: str,
    role: str = "village_cadre",
    level: int = 0,
    assignee: str = "",
    due_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    event_key: str | None = None,
) -> contracts.CaseEventMessage:
    task = contracts.case_events_pb2.TaskRef(
        task_id=f"T-{case_id}",
        kind="home_visit",
        role=role,
        region_code=VILLAGE,
        assignee=assignee,
        escalation_level=level,
    )
    task.due_at.CopyFrom(contracts.to_timestamp(due_at or datetime(2026, 11, 23, 15, 30, tzinfo=UTC)))
    event = contracts.CaseEventMessage(
        schema_version=contracts.SCHEMA_VERSION,
        event_key=event_key or f"{case_id}:{name}:{uuid.uuid4().hex[:6]}",
        name=name,
        case_id=case_id,
        household_id=f"H{VILLAGE}007",
        region_code=VILLAGE,
        step="verify",
        status="verifying",
        task=task,
        details=contracts.to_struct(details or {}),
    )
    event.occurred_at.CopyFrom(contracts.to_timestamp(contracts.now_utc()))
    return event


@pytest.fixture
def make_settings(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> Callable[..., Any]:
    async def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "consumer_group": unique("notify"),
            "delivery_backoff_base_seconds": 0.05,
            "delivery_backoff_max_seconds": 0.2,
            "delivery_max_attempts": 5,
            "delivery_poll_seconds": 0.1,
            "public_base_url": "http://safetynet.test:8003",
            "notify_allowed_networks": "127.0.0.0/8",  # the receivers are on loopback
        }
        values.update(overrides)
        settings: Settings = await provision(isolated_settings(Settings, **values), SERVICE)
        return settings

    return build


@asynccontextmanager
async def running(
    settings: Settings, hook: Receiver, sms: Receiver, clock: Callable[[], datetime] = contracts.now_utc
) -> AsyncIterator[Harness]:
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(serve(create_app(settings, clock=clock)))
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        producer = kafka.make_producer(settings)
        await producer.start()
        stack.push_async_callback(producer.stop)
        yield Harness(settings, url, client, producer, hook, sms)


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[Receiver, str, Receiver, str]]:
    hook, sms = Receiver(), Receiver()
    async with serve(hook.app()) as hook_url, serve(sms.app()) as sms_url:
        yield hook, hook_url, sms, sms_url


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_task_event_reaches_signed_webhook_and_mailbox(
    make_settings: Callable[..., Any], mailbox: tuple[Mailbox, int], receivers: Any
) -> None:
    box, smtp_port = mailbox
    hook, hook_url, sms, _ = receivers
    settings = await make_settings(smtp_host="127.0.0.1", smtp_port=smtp_port)
    upsert_recipient(
        settings, username="cadre-zh", role="village_cadre", region="610327101201", email="cadre@village.test"
    )
    upsert_recipient(
        settings,
        username="cadre-en",
        role="village_cadre",
        region="610327101",
        email="cadre-en@village.test",
        locale="en",
    )
    upsert_recipient(
        settings, username="elsewhere", role="village_cadre", region="610327102", email="other@village.test"
    )
    upsert_recipient(settings, username="grid", role="grid_worker", region=VILLAGE, email="grid@village.test")
    async with running(settings, hook, sms) as h:
        ready = await h.client.get(f"{h.url}/readyz")
        assert ready.status_code == 200, ready.text
        forbidden = await h.client.post(
            f"{h.url}/v1/subscriptions",
            headers=h.token(Role.VILLAGE_CADRE, VILLAGE),
            json={"url": hook_url, "secret": "x" * 20, "events": ["task.assigned"]},
        )
        assert forbidden.status_code == 403
        outside = await h.client.post(
            f"{h.url}/v1/subscriptions",
            headers=h.token(Role.COUNTY_OFFICER, "610327"),
            json={
                "url": hook_url,
                "secret": "x" * 20,
                "events": ["task.assigned"],
                "region_prefix": "610328",
            },
        )
        assert outside.status_code == 403
        await h.subscribe(f"{hook_url}/hook", ["task.assigned"])
        case_id = unique("C")
        await h.publish(
            case_event(
                "task.assigned",
                case_id=case_id,
                details={"note": f"身份证 {ID_NUMBER}", "diagnosis_category": "cancer"},
            )
        )

        await eventually(
            lambda: _async(len(hook.delivered) == 1 and len(box.messages) == 2),
            message="webhook and two mails",
        )
        headers, body = hook.received[0]
        secret = b"s3cret-for-the-test-hook"
        assert (
            headers["x-safetynet-signature"] == "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        )
        payload = json.loads(body)
        assert payload["event"] == "task.assigned" and payload["case_id"] == case_id
        assert payload["link"] == f"http://safetynet.test:8003/cases/{case_id}"
        assert ID_NUMBER not in body.decode() and "cancer" not in body.decode()

        mails = {m["To"]: m for m in box.messages}
        assert set(mails) == {"cadre@village.test", "cadre-en@village.test"}
        zh, en = mails["cadre@village.test"], mails["cadre-en@village.test"]
        assert zh["Subject"] == f"【防返贫监测】新任务：入户核实（案件 {case_id}）"
        zh_body = zh.get_content()
        assert f"http://safetynet.test:8003/cases/{case_id}" in zh_body
        assert "2026年11月23日 23:30" in zh_body  # 15:30 UTC as Beijing time
        assert en["Subject"] == f"[SafetyNet] New task: home visit (case {case_id})"
        assert "23 Nov 2026, 23:30" in en.get_content()
        for mail in box.messages:
            assert ID_NUMBER not in mail.as_string() and "cancer" not in mail.as_string()

        log = await eventually(lambda: _sent(h, case_id, 3), message="three sent deliveries")
        assert {(d["channel"], d["recipient"]) for d in log} >= {("email", "cadre-zh"), ("email", "cadre-en")}
        assert all(d["attempts"] == 1 and len(d["attempt_log"]) == 1 for d in log)
        assert all(
            "@village.test" not in d["address"] or d["address"].startswith(d["address"][0] + "***")
            for d in log
        )
        unauthenticated = await h.client.get(f"{h.url}/v1/deliveries", params={"case_id": case_id})
        assert unauthenticated.status_code == 401
        other = await h.client.get(
            f"{h.url}/v1/deliveries",
            params={"case_id": case_id},
            headers=h.token(Role.VILLAGE_CADRE, "610327102201"),
        )
        assert other.status_code == 200 and other.json()["deliveries"] == []


async def test_receiver_failing_three_times_gets_the_message_once(
    make_settings: Callable[..., Any], receivers: Any
) -> None:
    hook, hook_url, sms, _ = receivers
    hook.statuses = [500, 500, 500]
    settings = await make_settings(delivery_max_attempts=6)
    async with running(settings, hook, sms) as h:
        await h.subscribe(f"{hook_url}/flaky", ["task.reminder"])
        case_id = unique("C")
        await h.publish(case_event("task.reminder", case_id=case_id))
        log = await eventually(lambda: _sent(h, case_id, 1), message="delivered after retries")
        assert len(hook.delivered) == 1 and len(hook.received) == 4
        (delivery,) = log
        assert delivery["attempts"] == 4
        assert [a["outcome"] for a in delivery["attempt_log"]] == ["failure"] * 3 + ["success"]
        assert "HTTP 500" in delivery["last_error"]
        signatures = {headers["x-safetynet-signature"] for headers, _ in hook.received}
        assert len(signatures) == 1  # the same body every time


async def test_receiver_down_past_the_maximum_is_dead_lettered(
    make_settings: Callable[..., Any], receivers: Any
) -> None:
    hook, _, sms, _ = receivers
    settings = await make_settings(delivery_max_attempts=3)
    before = metric("safetynet_notify_dead_letters_total", source="delivery", channel="webhook")
    async with running(settings, hook, sms) as h:
        await h.subscribe(f"http://127.0.0.1:{free_port()}/nobody-home", ["task.overdue"])
        case_id = unique("C")
        await h.publish(case_event("task.overdue", case_id=case_id))

        async def dead() -> list[dict[str, Any]]:
            return [d for d in await h.deliveries(case_id) if d["status"] == "dead"]

        (delivery,) = await eventually(dead, message="dead-lettered delivery")
        assert delivery["attempts"] == 3 and len(delivery["attempt_log"]) == 3
        assert "ConnectError" in delivery["last_error"]
        assert (
            metric("safetynet_notify_dead_letters_total", source="delivery", channel="webhook") == before + 1
        )
        text = (await h.client.get(f"{h.url}/metrics")).text
        assert 'safetynet_notify_deliveries_total{channel="webhook",status="dead"}' in text
        assert "safetynet_notify_retry_queue_depth" in text


async def test_redelivered_event_does_not_notify_twice(
    make_settings: Callable[..., Any], receivers: Any
) -> None:
    hook, hook_url, sms, _ = receivers
    settings = await make_settings()
    case_id = unique("C")
    event = case_event("task.assigned", case_id=case_id)
    async with running(settings, hook, sms) as h:
        await h.subscribe(f"{hook_url}/once", ["task.assigned", "case.closed"])
        await h.publish(event)
        await h.publish(event)  # the producer retried
        poison: dict[str, contracts.CaseEventMessage | bytes] = {
            "invalid": contracts.CaseEventMessage(name="task.assigned"),  # no event key
            "undecodable": b"\xff\xfe not protobuf",
            "unknown_type": case_event("alien.landed", case_id=case_id),
            "schema_version": _from_a_newer_schema(case_event("task.assigned", case_id=case_id)),
        }
        before = {reason: _dead_letters(settings, reason) for reason in poison}
        for value in poison.values():
            await h.publish(value)
        await h.publish(_marker(case_id, "m1"))
        await eventually(lambda: _async(len(hook.delivered) == 2), message="event and marker")
    # A new consumer group re-reads the whole topic: every event is delivered to notify again.
    async with running(settings.model_copy(update={"consumer_group": unique("notify")}), hook, sms) as h:
        await h.publish(_marker(case_id, "m2"))
        await eventually(lambda: _async(len(hook.delivered) == 3), message="second marker")
        # deliveries of one batch go out concurrently: their order is not the events' order
        assert sorted(d["event"] for d in hook.delivered) == ["case.closed", "case.closed", "task.assigned"]
        assert len(await h.deliveries(case_id)) == 3
    # each poison record dead-lettered once per consumer group that read it, and both groups kept going
    assert {reason: _dead_letters(settings, reason) - before[reason] for reason in poison} == dict.fromkeys(poison, 2)


def _from_a_newer_schema(event: contracts.CaseEventMessage) -> contracts.CaseEventMessage:
    event.schema_version = contracts.SCHEMA_VERSION + 1
    return event


def _dead_letters(settings: Any, reason: str) -> float:
    return metric("safetynet_dead_letters_total", consumer="notify", topic=settings.topic_case_events, reason=reason)


async def test_quiet_hours_hold_a_reminder_sms_but_not_a_level_two_escalation(
    make_settings: Callable[..., Any], receivers: Any
) -> None:
    hook, _, sms, sms_url = receivers
    settings = await make_settings(
        sms_gateway_url=f"{sms_url}/send?to={{phone}}", sms_auth_header="Authorization: Bearer gateway-token"
    )
    upsert_recipient(settings, username="gw1", role="grid_worker", region=VILLAGE, phone="13800001111")
    upsert_recipient(
        settings, username="tw1", role="township_officer", region="610327101", phone="13900002222"
    )
    real_now = datetime.now(UTC)
    local = real_now.astimezone(SHANGHAI)
    late = datetime.combine(local.date(), time(23, 30), tzinfo=SHANGHAI)
    offset = late - real_now

    def clock() -> datetime:  # 23:30 in Shanghai, and ticking
        return datetime.now(UTC) + offset

    async with running(settings, hook, sms, clock=clock) as h:
        case_id = unique("C")
        await h.publish(case_event("task.reminder", case_id=case_id, role="grid_worker", assignee="gw1"))
        await h.publish(
            case_event("task.escalated", case_id=case_id, role="township_officer", assignee="gw1", level=2)
        )
        await eventually(lambda: _async(len(sms.delivered) == 2), message="two escalation SMS")

        async def held() -> list[dict[str, Any]]:
            return [d for d in await h.deliveries(case_id) if d["status"] == "deferred"]

        (reminder,) = await eventually(held, message="reminder held back")
        assert reminder["event"] == "task.reminder" and reminder["recipient"] == "gw1"
        assert reminder["attempts"] == 0 and reminder["address"] == "*******1111"
        resume = datetime.fromisoformat(reminder["next_attempt_at"]).astimezone(SHANGHAI)
        assert (resume.date(), resume.time()) == (late.date() + timedelta(days=1), time(7, 0))
        assert {p["phone"] for p in sms.delivered} == {"13800001111", "13900002222"}
        assert all("督办" in p["text"] for p in sms.delivered)
        headers = [hd for hd, _ in sms.received]
        assert all(hd["authorization"] == "Bearer gateway-token" for hd in headers)


def _marker(case_id: str, tag: str) -> contracts.CaseEventMessage:
    event = case_event("case.closed", case_id=case_id, event_key=f"{case_id}:marker:{tag}")
    event.ClearField("task")
    event.close_reason = "duplicate"
    return event


async def _async(value: bool) -> bool:
    return value


async def _sent(h: Harness, case_id: str, count: int) -> list[dict[str, Any]]:
    log = [d for d in await h.deliveries(case_id) if d["status"] == "sent"]
    return log if len(log) == count else []

"""No API answer, page, log line or message leaving the pipeline holds more than the last four characters of an
ID number, a full birth date or a whole phone number (issue 20, "Done means").

A small synthetic county (libs/cli's generator) goes through intake into the four services in process, on
fresh schemas and topics: registry records and a year of department events, risk scoring, cases opening in
workflow, notify delivering case events and exchange records to webhook receivers on loopback. Case workers
then type ID numbers and phones into free-text fields (a visit's notes, an objection). Everything is then
read back and grepped for the personal data the county was loaded with: every GET route of every service
(the route walk's list) for every object, every page, every log line the processes wrote, every message on
the case-events and risk-assessments topics and every webhook body."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from fastapi import FastAPI, Request

from safetynet_cli import synthetic
from safetynet_core.kafka import make_consumer
from safetynet_core.testing import eventually, serve, unique
from safetynet_intake.clients import create_client
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_intake.main import create_app as create_intake
from safetynet_intake.settings import Settings as IntakeSettings
from safetynet_notify.info import SERVICE as NOTIFY
from safetynet_notify.main import create_app as create_notify
from safetynet_notify.settings import Settings as NotifySettings
from safetynet_risk.info import SERVICE as RISK
from safetynet_risk.main import create_app as create_risk
from safetynet_risk.settings import Settings as RiskSettings
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.info import SERVICE as WORKFLOW
from safetynet_workflow.main import create_app as create_workflow
from safetynet_workflow.settings import Settings as WorkflowSettings
from tests.security.support import PASSWORD
from tests.security.walk import Route, routes_of

pytestmark = pytest.mark.integration
HOUSEHOLDS = 150  # the demo county flags ~5-10% of its households: enough for a handful of cases
COUNTY = synthetic.COUNTY_CODE
RECENT = date(2020, 1, 1)  # later birth dates may coincide with event dates; older ones are checked


@dataclass
class PersonalData:
    """The county's personal data as loaded, and what of it must never be shown."""

    id_numbers: set[str] = field(default_factory=set)
    birth_dates: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, registry: list[dict[str, Any]]) -> PersonalData:
        found = cls()
        for record in registry:
            found.phones.add(record["phone"])
            for member in record["members"]:
                found.id_numbers.add(member["id_number"])
                if date.fromisoformat(member["birth_date"]) < RECENT:
                    found.birth_dates.add(member["birth_date"])
        return found

    def leaks(self, source: str, text: str) -> list[str]:
        """Where `text` shows more than the last four characters of an ID number (10 of its characters in a row:
        beyond the 6-digit region code that starts every code of the county), a whole phone number or a full
        birth date (ISO, or compact as a number of its own)."""
        windows = {n[i : i + 10] for n in self.id_numbers for i in range(len(n) - 9)}
        compact = {d.replace("-", "") for d in self.birth_dates}
        found = []
        for match in DIGIT_RUN.finditer(text):
            run = match.group().upper()
            if (
                run in compact
                or any(p in run for p in self.phones)
                or any(run[i : i + 10] in windows for i in range(len(run) - 9))
            ):
                found.append(match)
        found += [m for m in ISO_DATE.finditer(text) if m.group() in self.birth_dates]
        return [f"{source}: …{text[max(0, m.start() - 60) : m.end() + 20]}…" for m in found]


DIGIT_RUN = re.compile(r"\d{8,}[\dXx]?")
ISO_DATE = re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)")


@dataclass
class Receiver:
    """Webhook and exchange-push receiver on loopback: keeps every body it is sent."""

    bodies: list[str] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{path:path}")
        async def receive(request: Request) -> dict[str, str]:
            self.bodies.append((await request.body()).decode())
            return {"ok": "yes"}

        return app


@dataclass
class County:
    """The four services in process, loaded, with the case workers' tokens and what was read back."""

    urls: dict[str, str]
    apps: dict[str, FastAPI]
    http: httpx.AsyncClient
    settings: dict[str, Any]
    registry: list[dict[str, Any]]
    keys: dict[str, str]  # department -> API key
    receiver: Receiver
    tokens: dict[str, str] = field(default_factory=dict)  # username -> JWT (a workflow login)
    read: list[tuple[str, str]] = field(default_factory=list)  # (what, text) of everything read back

    async def get(self, service: str, path: str, token: str, *, page: bool = False, **params: Any) -> httpx.Response:
        auth = {"Cookie": f"safetynet_session={token}"} if page else {"Authorization": f"Bearer {token}"}
        response = await self.http.get(self.urls[service] + path, headers=auth, params=params)
        self.read.append((f"{service} GET {path} {params or ''} → {response.status_code}", response.text))
        return response

    async def login(self, username: str) -> str:
        response = await self.http.post(
            self.urls["workflow"] + "/v1/auth/token", data={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        self.tokens[username] = response.json()["access_token"]
        return self.tokens[username]


USERS = {  # username -> (role, region, department)
    "admin": ("admin", "", None),
    "county": ("county_officer", COUNTY, None),
    "auditor": ("auditor", COUNTY, None),
    "township": ("township_officer", synthetic.villages()[0].township_code, None),
    "cadre": ("village_cadre", synthetic.villages()[0].code, None),
}


@pytest.fixture
async def county(isolated_settings: Any, provision: Any) -> AsyncIterator[County]:
    intake_settings = isolated_settings(IntakeSettings, relay_poll_interval=0.2, log_json=True)
    topics = {name: getattr(intake_settings, name) for name in
              ("topic_household_events", "topic_risk_assessments", "topic_case_events")}  # fmt: skip
    settings = {
        "intake": intake_settings,
        "risk": isolated_settings(
            RiskSettings,
            consumer_group=unique("risk"),
            case_consumer_group=unique("risk-cases"),
            consume_timeout_ms=200,
            log_json=True,
            **topics,
        ),
        "workflow": isolated_settings(
            WorkflowSettings,
            workflow_task_queue=unique("wfq"),
            consumer_group=unique("wf"),
            inspection_enabled=False,
            log_json=True,
            **topics,
        ),
        "notify": isolated_settings(
            NotifySettings,
            consumer_group=unique("notify"),
            registry_consumer_group=unique("notify-registry"),
            delivery_poll_seconds=0.2,
            notify_allowed_networks="127.0.0.0/8",
            log_json=True,
            **topics,
        ),
    }
    for name, info in (("intake", INTAKE), ("risk", RISK), ("workflow", WORKFLOW), ("notify", NOTIFY)):
        await provision(settings[name], info)
    conn = await asyncpg.connect(
        intake_settings.asyncpg_dsn, server_settings={"search_path": intake_settings.db_schema}
    )
    try:
        departments = {d for d, _, _ in synthetic.EVENT_MIX} | {"rural_revitalization"}
        keys = {d: (await create_client(conn, d, f"{d} client", None))[1] for d in sorted(departments)}
    finally:
        await conn.close()
    receiver = Receiver()
    async with AsyncExitStack() as exits:
        hook_url = await exits.enter_async_context(serve(receiver.app()))
        apps: dict[str, FastAPI] = {}
        urls: dict[str, str] = {}
        for name, factory in (("intake", create_intake), ("risk", create_risk), ("notify", create_notify)):
            apps[name] = factory(settings[name])
            urls[name] = await exits.enter_async_context(serve(apps[name]))
        settings["workflow"] = settings["workflow"].model_copy(update={"intake_url": urls["intake"],
                                                                       "notify_url": urls["notify"]})  # fmt: skip
        apps["workflow"] = create_workflow(settings["workflow"])
        urls["workflow"] = await exits.enter_async_context(serve(apps["workflow"]))
        http = await exits.enter_async_context(httpx.AsyncClient(timeout=60, follow_redirects=False))
        loaded = County(urls, apps, http, settings, own_households(), keys, receiver)
        for username, (role, region, department) in USERS.items():
            await create_user(settings["workflow"], username=username, password=PASSWORD, role=role, region=region,
                              department=department)  # fmt: skip
            await loaded.login(username)
        await subscribe(loaded, hook_url)
        yield loaded


def own_households() -> list[dict[str, Any]]:
    """The generator's households under ids of this run's own (a case workflow's id is its household's: the
    generator's fixed ids would meet workflows of earlier runs, or of a stack, in the shared Temporal)."""
    run = unique("")[1:7]
    registry = synthetic.households(HOUSEHOLDS)
    for record in registry:
        old = record["household_id"]
        record["household_id"] = new = f"H{run}{old[1:]}"
        record["head_member_id"] = record["head_member_id"].replace(old, new)
        for member in record["members"]:
            member["member_id"] = member["member_id"].replace(old, new)
    return registry


async def subscribe(county: County, hook_url: str) -> None:
    """A case-event webhook and a push feed of every exchange purpose, for the whole county."""
    token = county.tokens["county"]
    auth = {"Authorization": f"Bearer {token}"}
    hook = {"url": f"{hook_url}/hook", "secret": "s" * 16, "events": ["case.opened", "task.assigned",
            "case.step_changed", "notice.published", "task.escalated"], "region_prefix": COUNTY}  # fmt: skip
    created = await county.http.post(county.urls["notify"] + "/v1/subscriptions", headers=auth, json=hook)
    assert created.status_code == 201, created.text
    purposes = (await county.get("notify", "/v1/exchange/purposes", token)).json()["purposes"]
    for purpose in purposes:
        feed = {"purpose": purpose["purpose"], "department": purpose["department"], "mode": "push",
                "url": f"{hook_url}/exchange", "secret": "e" * 16, "region_prefix": COUNTY}  # fmt: skip
        answer = await county.http.post(county.urls["notify"] + "/v1/exchange/subscriptions", headers=auth, json=feed)
        assert answer.status_code == 201, answer.text


def ndjson(documents: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in documents)


async def load(county: County) -> None:
    """The registry and the department events through intake's batch routes, as the demo loads them."""
    intake = county.urls["intake"]

    async def post(department: str, path: str, documents: list[dict[str, Any]]) -> None:
        headers = {"Authorization": f"Bearer {county.keys[department]}", "Content-Type": "application/x-ndjson"}
        answer = await county.http.post(intake + path, headers=headers, content=ndjson(documents))
        assert answer.status_code == 200 and not answer.json()["rejected"], answer.text[:500]

    await post("rural_revitalization", "/v1/households:batch", county.registry)
    by_department: dict[str, list[dict[str, Any]]] = {}
    for department, event in synthetic.events(county.registry, days=200):
        by_department.setdefault(department, []).append(event)
    for department, events in by_department.items():
        await post(department, "/v1/events:batch", events)


async def work_some_cases(county: County, data: PersonalData) -> list[str]:
    """Case workers write personal data into free text: a screening reason, a visit's notes, an objection."""
    id_number, phone = sorted(data.id_numbers)[0], sorted(data.phones)[0]
    token = county.tokens["admin"]
    tasks = (await county.get("workflow", "/v1/tasks", token, kind="screen")).json()["tasks"]
    auth = {"Authorization": f"Bearer {token}"}
    for task in tasks[:3]:
        base = county.urls["workflow"] + f"/v1/tasks/{task['task_id']}"
        assert (await county.http.post(base + "/claim", headers=auth)).status_code == 200
        form = {"decision": "proceed", "reason": f"本人身份证 {id_number}，电话 {phone}"}
        assert (await county.http.post(base + "/complete", headers=auth, json=form)).status_code == 200
        objection = {"reason": f"村民举报：户主身份证号 {id_number}，联系电话 {phone}"}
        filed = await county.http.post(
            county.urls["workflow"] + f"/v1/cases/{task['case_id']}/objections", headers=auth, json=objection
        )
        assert filed.status_code in (202, 409), filed.text
    return [task["case_id"] for task in tasks[:3]]


async def read_everything(county: County, worked: list[str]) -> None:
    """Every GET route of every service, for each object it names (a few of each), as the admin, the county
    officer and the village cadre; pages with their sessions."""
    admin = county.tokens["admin"]
    listed = (await county.get("workflow", "/v1/cases", admin)).json()["cases"]
    cases = sorted(listed, key=lambda c: c["case_id"] not in worked)  # the cases worked on first
    tasks = (await county.get("workflow", "/v1/tasks", admin)).json()["tasks"]
    households = [c["household_id"] for c in cases[:4]] or [county.registry[0]["household_id"]]
    purposes = (await county.get("notify", "/v1/exchange/purposes", admin)).json()["purposes"]
    subscriptions = (await county.get("notify", "/v1/subscriptions", admin)).json()
    values = {
        "case_id": [c["case_id"] for c in cases[:4]],
        "task_id": [t["task_id"] for t in tasks[:4]],
        "household_id": households,
        "village": sorted({c["region_code"] for c in cases})[:2],
        "purpose": [p["purpose"] for p in purposes],
        "subscription_id": [s["subscription_id"] for s in subscriptions],
    }
    routes: list[Route] = []
    for name, url in county.urls.items():
        schema = (await county.http.get(url + "/openapi.json")).json()
        routes += [r for r in routes_of(name, county.apps[name], schema) if r.method == "GET"]
    for route in routes:
        if route.api_key or any(p not in values for p in route.params):
            continue  # department routes are read with their keys below; no object of that kind was made
        named = zip(*(values[p] for p in route.params), strict=False)
        combos = [dict(zip(route.params, vs, strict=True)) for vs in named]
        query = {"case_id": values["case_id"][0]} if route.path == "/v1/deliveries" else {}
        for combo in combos or [{}]:
            for user in ("admin", "county", "cadre"):
                await county.get(route.service, route.url(combo), county.tokens[user], page=route.page, **query)
    for department, event in synthetic.events(county.registry, days=200)[:20]:
        key = county.keys[department]
        answer = await county.http.get(county.urls["intake"] + f"/v1/events/{event['event_id']}",
                                       headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        county.read.append((f"intake GET /v1/events/{event['event_id']}", answer.text))


async def kafka_messages(settings: Any) -> list[tuple[str, str]]:
    """Every message on the topics that leave the pipeline's core (case events, assessments), as text."""
    consumer = make_consumer(settings, unique("grep"), settings.topic_case_events, settings.topic_risk_assessments)
    await consumer.start()
    found: list[tuple[str, str]] = []
    try:
        while batch := await consumer.getmany(timeout_ms=3000):
            for records in batch.values():
                found += [(f"kafka {r.topic}", r.value.decode("utf-8", "replace")) for r in records]
    finally:
        await consumer.stop()
    return found


async def test_no_answer_page_log_or_message_shows_personal_data(
    county: County, capfd: pytest.CaptureFixture[str]
) -> None:
    data = PersonalData.of(county.registry)
    await load(county)
    admin = county.tokens["admin"]

    async def cases_opened() -> list[Any]:
        cases: list[Any] = (await county.get("workflow", "/v1/cases", admin)).json()["cases"]
        return cases if len(cases) >= 5 else []

    await eventually(cases_opened, timeout=120, interval=1, message="cases opened from the county's events")
    await eventually(lambda: _received(county, 5), timeout=60, interval=0.5, message="webhooks delivered")
    worked = await work_some_cases(county, data)
    await read_everything(county, worked)
    messages = await kafka_messages(county.settings["workflow"])
    logs = capfd.readouterr()

    assert len(county.read) > 200 and len(messages) > 20 and county.receiver.bodies
    sample = sorted(data.id_numbers)[0]
    assert data.leaks("check", f"id {sample} / {sample[:-1]}* / ****{sample[4:]}") and not data.leaks(
        "check", f"id **************{sample[-4:]}, born {sorted(data.birth_dates)[0][:4]}"
    )  # the check finds what it looks for, and passes what may be shown
    sources = [*county.read, *messages, *(("webhook", b) for b in county.receiver.bodies),
               ("log (stdout)", logs.out), ("log (stderr)", logs.err)]  # fmt: skip
    leaks = [leak for source, text in sources for leak in data.leaks(source, text)]
    assert not leaks, "\n".join(leaks[:40])


async def _received(county: County, at_least: int) -> bool:
    return len(county.receiver.bodies) >= at_least

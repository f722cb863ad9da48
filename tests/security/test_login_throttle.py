"""Login throttling (issue 20: no limit on failed logins, user enumeration by timing, a 64 MiB argon2 hash
per attempt): 5 failures for a username within the window → 429 with Retry-After, before any hashing; 50
for a client address (an office behind one NAT keeps working); an unknown username costs one hash of the
same parameters as a known one; the counts live in workflow's database, so they hold across processes; the
UI login page is throttled like the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from safetynet_core.auth import verify_secret
from safetynet_core.testing import eventually, form_token, serve
from safetynet_workflow.auth import throttle
from safetynet_workflow.auth.admin import create_user, deactivate_user
from safetynet_workflow.info import SERVICE as WORKFLOW
from safetynet_workflow.main import create_app as create_workflow
from safetynet_workflow.settings import Settings as WorkflowSettings
from tests.security.conftest import StartService
from tests.security.support import PASSWORD, VILLAGE, Running

pytestmark = pytest.mark.integration
LIGHT = {"run_worker": False, "run_consumer": False, "inspection_enabled": False}


class Hashes:
    """Counts the password checks (argon2 verifications) the login runs; `fast` replaces argon2 by a plain
    comparison with PASSWORD, for tests that need many attempts."""

    def __init__(self, fast: bool) -> None:
        self.fast = fast
        self.checked: list[str] = []

    def __call__(self, stored_hash: str, password: str) -> bool:
        self.checked.append(stored_hash)
        if self.fast:
            return stored_hash != throttle.dummy_hash() and password == PASSWORD
        return verify_secret(stored_hash, password)


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], Hashes]:
    def install(fast: bool = False) -> Hashes:
        counter = Hashes(fast)
        monkeypatch.setattr(throttle, "verify_secret", counter)
        return counter

    return install


@asynccontextmanager
async def workflow_app(start_service: StartService, **overrides: Any) -> AsyncIterator[Running]:
    """Workflow's API and UI (no worker or consumers) with users `cadre` and `other` in VILLAGE."""
    async with start_service(WORKFLOW, WorkflowSettings, create_workflow, **{**LIGHT, **overrides}) as running:
        for username in ("cadre", "other"):
            await create_user(running.settings, username=username, password=PASSWORD, role="village_cadre",
                              region=VILLAGE)  # fmt: skip
        yield running


async def token(http: httpx.AsyncClient, username: str, password: str, address: str = "198.51.100.1") -> httpx.Response:
    """POST /v1/auth/token from `address` (uvicorn trusts X-Forwarded-For from loopback, as from a proxy)."""
    form = {"username": username, "password": password}
    return await http.post("/v1/auth/token", data=form, headers={"X-Forwarded-For": address})


async def test_five_failures_for_a_username_then_429_before_any_hashing(
    start_service: StartService, hashes: Callable[[bool], Hashes]
) -> None:
    counter = hashes(False)  # the real argon2 check
    async with workflow_app(start_service) as wf:
        for _ in range(5):
            assert (await token(wf.http, "cadre", "wrong")).status_code == 401
        refused = await token(wf.http, "cadre", PASSWORD)  # the right password no longer helps
        assert refused.status_code == 429, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "username"]
        assert 800 < int(refused.headers["Retry-After"]) <= 900
        assert len(counter.checked) == 5  # the sixth attempt cost no hash
        assert (await token(wf.http, "other", PASSWORD)).status_code == 200  # other users are not locked out

        ui = await wf.http.get("/login")  # the login page is throttled the same way
        page = await wf.http.post(
            "/login", data={"username": "cadre", "password": PASSWORD, **form_token(ui.text)},
            headers={"X-Forwarded-For": "198.51.100.2"},
        )  # fmt: skip
        assert page.status_code == 429 and 'data-reason="throttled"' in page.text
        assert int(page.headers["Retry-After"]) > 0 and "safetynet_session" not in page.headers.get("set-cookie", "")
        assert len(counter.checked) == 6  # five failures and the other user's login


async def test_an_address_gets_50_failures_and_an_office_behind_it_keeps_working(
    start_service: StartService, hashes: Callable[[bool], Hashes]
) -> None:
    hashes(True)
    office, elsewhere = "203.0.113.7", "203.0.113.8"
    async with workflow_app(start_service) as wf:
        typos = [token(wf.http, f"clerk-{n}", "wrong", office) for n in range(49)]  # 49 colleagues mistype
        assert {r.status_code for r in await asyncio.gather(*typos)} == {401}
        assert (await token(wf.http, "cadre", PASSWORD, office)).status_code == 200  # the office still works
        assert (await token(wf.http, "cadre", "wrong", office)).status_code == 401  # the 50th failure
        for username, password in (("other", PASSWORD), ("newcomer", "x")):
            refused = await token(wf.http, username, password, office)
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert (await token(wf.http, "other", PASSWORD, elsewhere)).status_code == 200
        # IPv6: one client holds a /64, so its addresses count together
        for n in range(5):
            assert (await token(wf.http, f"v6-{n}", "x", f"2001:db8:1:2::{n + 1}")).status_code == 401
        v6 = "select count(distinct address_key) from login_attempts where address_key like '2001%'"
        assert await wf.db.fetchval(v6) == 1


async def test_an_unknown_username_costs_one_hash_of_the_same_parameters(
    start_service: StartService, hashes: Callable[[bool], Hashes]
) -> None:
    counter = hashes(False)
    async with workflow_app(start_service) as wf:
        await deactivate_user(wf.settings, "other")
        stored = await wf.db.fetchval("select password_hash from users where username = 'cadre'")
        for username in ("cadre", "nobody-by-this-name", "other"):
            assert (await token(wf.http, username, "wrong")).status_code == 401
        known, unknown, deactivated = counter.checked
        assert known == stored and unknown == deactivated == throttle.dummy_hash()
        parameters = stored.rsplit("$", 2)[0]  # $argon2id$v=19$m=...,t=...,p=...
        assert unknown.rsplit("$", 2)[0] == parameters and unknown != stored


async def test_counts_hold_across_processes_and_concurrent_attempts(
    start_service: StartService, hashes: Callable[[bool], Hashes]
) -> None:
    counter = hashes(True)
    async with (
        workflow_app(start_service) as first,
        serve(create_workflow(first.settings)) as second_url,
        httpx.AsyncClient(base_url=second_url, timeout=30) as second,
    ):
        for http in (first.http, second, first.http):
            assert (await token(http, "cadre", "wrong")).status_code == 401
        assert (await token(second, "cadre", PASSWORD)).status_code == 200  # a success clears the username
        assert await first.db.fetchval("select count(*) from login_attempts") == 0

        burst = [token(http, "other", "wrong") for http in (first.http, second) * 8]
        answers = [r.status_code for r in await asyncio.gather(*burst)]
        assert sorted(answers) == [401] * 5 + [429] * 11, answers  # exactly five checks ran, in both
        assert len(counter.checked) == 3 + 1 + 5


async def test_the_window_passes(start_service: StartService, hashes: Callable[[bool], Hashes]) -> None:
    hashes(True)
    async with workflow_app(start_service, login_failure_window_seconds=3) as wf:
        for _ in range(5):
            assert (await token(wf.http, "cadre", "wrong")).status_code == 401
        refused = await token(wf.http, "cadre", PASSWORD)
        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 3

        async def signed_in() -> bool:
            return (await token(wf.http, "cadre", PASSWORD)).status_code == 200

        await eventually(signed_in, timeout=15, interval=0.5, message="the failures left the window")

"""Behind the TLS ingress (issue 20: the session cookie is never `Secure` behind it): uvicorn runs with
`--proxy-headers --forwarded-allow-ips <the ingress>` (SAFETYNET_FORWARDED_ALLOW_IPS), so a request the
ingress forwards has scheme https and every cookie the UI sets is Secure; the same headers from anyone else
are ignored (and cannot choose the address login throttling counts)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import ValidationError

from safetynet_core.testing import form_token, serve
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.info import SERVICE as WORKFLOW
from safetynet_workflow.main import create_app as create_workflow
from safetynet_workflow.settings import Settings as WorkflowSettings
from tests.security.support import PASSWORD, VILLAGE

pytestmark = pytest.mark.integration
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.23"}


@asynccontextmanager
async def behind_proxy(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any], ingress: str
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Connection]]:
    """Workflow served as deploy/ starts it: proxy headers trusted from `ingress` (the setting)."""
    settings = isolated_settings(
        WorkflowSettings, run_worker=False, run_consumer=False, inspection_enabled=False, forwarded_allow_ips=ingress
    )
    await provision(settings, WORKFLOW)
    await create_user(settings, username="cadre", password=PASSWORD, role="village_cadre", region=VILLAGE)
    app = create_workflow(settings)
    conn = await asyncpg.connect(settings.asyncpg_dsn, server_settings={"search_path": settings.db_schema})
    try:
        async with (
            serve(app, proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            yield http, conn
    finally:
        await conn.close()


async def sign_in(http: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    """The login form, as a browser behind the TLS ingress sends it (with its cookie, Secure or not: the test
    talks plain HTTP to the app, as the ingress does)."""
    shown = await http.get("/login", headers=FORWARDED)
    form = {"username": "cadre", "password": password, **form_token(shown.text)}
    cookie = {"Cookie": f"safetynet_login_csrf={shown.cookies['safetynet_login_csrf']}"}
    return await http.post("/login", data=form, headers={**FORWARDED, **cookie})


def cookie_flags(response: httpx.Response) -> dict[str, bool]:
    """Cookie name → whether it is Secure."""
    return {
        header.split("=", 1)[0]: "secure" in [p.strip().lower() for p in header.split(";")]
        for header in response.headers.get_list("set-cookie")
    }


async def test_cookies_are_secure_behind_the_tls_ingress(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    async with behind_proxy(isolated_settings, provision, "127.0.0.1") as (http, db):
        shown = await http.get("/login", headers=FORWARDED)
        assert cookie_flags(shown) == {"safetynet_login_csrf": True}
        signed_in = await sign_in(http)
        assert signed_in.status_code == 303, signed_in.text
        assert cookie_flags(signed_in)["safetynet_session"] is True
        language = await http.get("/lang/en", headers=FORWARDED)
        assert cookie_flags(language) == {"safetynet_lang": True}
        assert (await sign_in(http, "wrong")).status_code == 401
        assert await db.fetchval("select address_key from login_attempts") == "198.51.100.23"  # the real client


async def test_forwarded_headers_from_anyone_else_are_ignored(
    isolated_settings: Callable[..., Any], provision: Callable[..., Any]
) -> None:
    async with behind_proxy(isolated_settings, provision, "192.0.2.10/32") as (http, db):  # the ingress is elsewhere
        signed_in = await sign_in(http)
        assert signed_in.status_code == 303 and cookie_flags(signed_in)["safetynet_session"] is False
        assert (await sign_in(http, "wrong")).status_code == 401
        assert await db.fetchval("select address_key from login_attempts") == "127.0.0.1"  # not the claimed one


def test_the_setting_takes_addresses_and_networks_never_everyone() -> None:
    assert WorkflowSettings(forwarded_allow_ips="10.244.0.0/16, 127.0.0.1").forwarded_allow_ips
    for bad in ("*", "ingress.local", "10.0.0.0/33"):
        with pytest.raises(ValidationError):
            WorkflowSettings(forwarded_allow_ips=bad)

"""CSRF (issue 20: no CSRF token on UI forms): every form post of the UI, found from the app's own routes,
is refused with 403 without its session's token (before anything else runs); every post form of every
template carries the token; the login form uses a double-submit cookie."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from safetynet_core.auth import Principal, Role, issue_token, verify_claims
from safetynet_workflow.auth.store import UserStore
from safetynet_workflow.bootstrap import bootstrap
from safetynet_workflow.main import create_app
from safetynet_workflow.settings import Settings
from safetynet_workflow.ui.csrf import CSRF_FIELD, LOGIN_COOKIE, session_csrf
from safetynet_workflow.ui.render import TEMPLATES
from safetynet_workflow.ui.session import SESSION_COOKIE

CADRE = Principal(subject="cadre", role=Role.VILLAGE_CADRE, region="610327101201")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """The app without its lifespan: a refused post never reaches a store."""
    settings = Settings(log_json=False)
    app = create_app(settings)
    app.state.settings, app.state.adapters = settings, bootstrap(settings)
    return app


def page_form_posts(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every state-changing route of the UI (not the JSON API), path parameters filled."""
    found = []
    for route in iter_route_contexts(app.routes):
        if not route.methods or not route.path or route.include_in_schema or route.path.startswith("/v1/"):
            continue
        path = re.sub(r"\{[^}]+\}", "x1", route.path)
        found += [(method, path) for method in sorted(route.methods & UNSAFE)]
    return found


def signed_in(app: FastAPI, principal: Principal = CADRE, session_id: str = "s-1") -> tuple[TestClient, str]:
    token = issue_token(Settings(), principal, session_id=session_id)
    client = TestClient(app, follow_redirects=False, cookies={SESSION_COOKIE: token})
    return client, session_csrf(Settings(), verify_claims(Settings(), token))


def test_every_ui_form_post_without_its_sessions_token_is_403(app: FastAPI) -> None:
    posts = page_form_posts(app)
    assert ("POST", "/logout") in posts and ("POST", "/tasks/x1/complete") in posts and len(posts) >= 8
    client, _ = signed_in(app)
    _, other_sessions = signed_in(app, session_id="s-2")
    for method, path in posts:
        if path == "/login":
            continue  # before a session: the double-submit cookie (below)
        for form in ({}, {CSRF_FIELD: ""}, {CSRF_FIELD: "forged"}, {CSRF_FIELD: other_sessions}):
            response = client.request(method, path, data=form)
            assert response.status_code == 403, (method, path, form, response.status_code)
            assert "<html" in response.text
        as_json = client.request(method, path, json={CSRF_FIELD: other_sessions})
        assert as_json.status_code == 403, (method, path)


class RecordingUsers(UserStore):
    """The user store without a database: records the sessions it is asked to end."""

    def __init__(self) -> None:
        self.revoked: list[str] = []

    async def revoke_session(self, session_id: str) -> None:
        self.revoked.append(session_id)


def test_the_sessions_own_token_passes(app: FastAPI) -> None:
    users = RecordingUsers()
    kept = app.state.adapters
    app.state.adapters = replace(kept, users=users)
    try:
        client, csrf = signed_in(app, session_id="s-own")
        response = client.post("/logout", data={CSRF_FIELD: csrf})
    finally:
        app.state.adapters = kept
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert users.revoked == ["s-own"]


def test_a_post_without_a_session_goes_to_the_login_page(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    response = client.post("/tasks/T1/claim")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_every_post_form_of_every_template_carries_the_token() -> None:
    forms = 0
    for template in TEMPLATES.glob("*.html"):
        for form in re.findall(r"<form\b[^>]*>", template.read_text(encoding="utf-8")):
            if 'method="post"' in form.lower():
                forms += 1
                after = template.read_text(encoding="utf-8").split(form, 1)[1]
                assert after.startswith("{{ csrf_field() }}"), f"{template.name}: {form}"
    assert forms >= 7


def test_the_login_form_repeats_its_cookie(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    shown = client.get("/login")
    cookie = shown.cookies[LOGIN_COOKIE]
    assert f'name="{CSRF_FIELD}" value="{cookie}"' in shown.text
    set_cookie = shown.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    again = client.get("/login")  # the same visitor keeps the same token
    assert again.cookies.get(LOGIN_COOKIE, cookie) == cookie
    credentials = {"username": "cadre", "password": "x"}
    for form in (credentials, {**credentials, CSRF_FIELD: "forged.token"}):
        refused = client.post("/login", data=form)
        assert refused.status_code == 403 and 'id="login-error"' in refused.text
    stranger = TestClient(app, follow_redirects=False)  # a page of another site posting with a token of its own
    stolen = stranger.post("/login", data={**credentials, CSRF_FIELD: cookie})
    assert stolen.status_code == 403
    forged_cookie = TestClient(app, follow_redirects=False, cookies={LOGIN_COOKIE: "nonce.forged"})
    assert forged_cookie.post("/login", data={**credentials, CSRF_FIELD: "nonce.forged"}).status_code == 403

"""The route walk (issue 20): every route of every service, read from the app's own routes (so a new route is
walked the day it is added), with no credential, forged, expired and revoked ones, and a token of each role
from another region. What a route needs to be walked (its path parameters' objects, a valid body) is in the
tables below: a route the tables do not know fails the walk until it is added."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from safetynet_core.auth import JWT_AUDIENCE, JWT_ISSUER
from safetynet_core.keys import generate_private_key_pem, key_id, signing_key
from safetynet_core.settings import CoreSettings
from tests.security.forgery import OLD_DEVELOPMENT_SECRET, hmac_token

# Routes anyone may call: liveness, readiness, metrics, the API documents, signing in, token introspection
# (it answers only whether a token is active), the public keys; the UI's login page, language switch and
# static files.
PUBLIC = frozenset({
    "/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/v1/auth/token",
    "/v1/auth/introspect", "/.well-known/jwks.json", "/login", "/lang/{lang}", "/static/ui/{name}",
    "/static/vendor/{name}",
})  # fmt: skip
# Routes that act on the caller's own session only (every signed-in user may end their own).
OWN_SESSION = frozenset({("POST", "/v1/auth/logout"), ("POST", "/logout")})
# Routes that act on the caller's own region only, whatever the form says (a township submits its own report).
OWN_REGION = frozenset({("POST", "/reports/submissions")})
# Path parameters that choose a list's format (`/cases.{fmt}`), not an object: such a route is a list.
FORMAT_PARAMS = frozenset({"fmt"})
# Routes answering public reference data (region names: no personal data) to every signed-in user.
REFERENCE_DATA = frozenset({("GET", "/v1/regions/{code}")})
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
OTHER_COUNTY = "610328"
# Each role, scoped to the other county at the level it works at (admins have no region).
OUTSIDERS = {
    "grid_worker": OTHER_COUNTY + "100201",
    "village_cadre": OTHER_COUNTY + "100201",
    "township_officer": OTHER_COUNTY + "100",
    "county_officer": OTHER_COUNTY,
    "department_officer": OTHER_COUNTY,
    "auditor": OTHER_COUNTY,
}
OUTSIDER_DEPARTMENT = "civil_affairs"  # the department of the seeded measure task: only the region differs


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    path: str  # the template, e.g. /v1/cases/{case_id}
    page: bool  # the workflow UI (cookie session, HTML) rather than the JSON API
    api_key: bool = False  # intake's department routes: an API key, never a case-worker token

    @property
    def params(self) -> list[str]:
        return re.findall(r"\{([^}:]+)", self.path)

    def url(self, values: dict[str, str]) -> str:
        missing = [p for p in self.params if p not in values]
        assert not missing, f"{self}: no seeded object for {missing}: add one to the walk's fixture"
        return re.sub(r"\{([^}:]+)(:[^}]*)?\}", lambda m: values[m.group(1)], self.path)

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}"


def routes_of(service: str, app: FastAPI, schema: dict[str, Any]) -> list[Route]:
    """Every (method, path) the app serves, but the public ones."""
    key_routes = {
        (method.upper(), path)
        for path, item in schema.get("paths", {}).items()
        for method, operation in item.items()
        if isinstance(operation, dict) and {"ApiKeyBearer": []} in operation.get("security", [])
    }
    found = []
    for route in iter_route_contexts(app.routes):
        if not route.methods or not route.path or route.path in PUBLIC:
            continue
        page = not route.include_in_schema and not route.path.startswith(("/v1/", "/.well-known/"))
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            found.append(Route(service, method, route.path, page, (method, route.path) in key_routes))
    return found


@dataclass
class Credentials:
    """Bad credentials of every kind, and the case-worker tokens of the outsiders."""

    settings: CoreSettings
    revoked: str = ""  # a workflow token whose session was logged out
    outsiders: dict[str, str] = field(default_factory=dict)  # role -> token (workflow: a login)

    def bad(self) -> Iterator[tuple[str, dict[str, str]]]:
        """(what, headers) of requests that carry no valid credential."""
        yield "none", {}
        yield "malformed", {"Authorization": "Bearer not-a-credential"}
        yield "basic", {"Authorization": "Basic eDp5"}
        kid = signing_key(self.settings).kid
        yield "forged HS256 admin", bearer(hmac_token(OLD_DEVELOPMENT_SECRET.encode(), kid=kid))
        yield "admin signed by another key", bearer(self.admin_token(other_key=True))
        yield "expired admin", bearer(self.admin_token(expired=True))
        if self.revoked:
            yield "revoked session", bearer(self.revoked)

    def admin_token(self, *, expired: bool = False, other_key: bool = False) -> str:
        now = datetime.now(UTC) - (timedelta(hours=9) if expired else timedelta(0))
        claims = {"sub": "intruder", "role": "admin", "region": "", "dept": None, "aud": JWT_AUDIENCE,
                  "iss": JWT_ISSUER, "iat": now, "exp": now + timedelta(hours=8), "jti": "x", "sid": "x"}  # fmt: skip
        key = signing_key(self.settings)
        if other_key:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            other = load_pem_private_key(generate_private_key_pem(), password=None)
            return jwt.encode(claims, other, algorithm="EdDSA", headers={"kid": key_id(other.public_key())})  # type: ignore[arg-type]
        return jwt.encode(claims, key.key, algorithm=key.algorithm, headers={"kid": key.kid})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def as_cookie(headers: dict[str, str]) -> dict[str, str]:
    """The same credential as the UI's session cookie."""
    token = headers.get("Authorization", "").removeprefix("Bearer ").removeprefix("Basic ")
    return {"Cookie": f"safetynet_session={token}"} if token else {}


def assert_refused_without_credentials(route: Route, what: str, response: httpx.Response) -> None:
    """API: 401 in the error shape naming the Authorization header. Pages: to the login page (a form post
    with a session that verifies but is revoked may also meet the CSRF check first: 403)."""
    where = (str(route), what, response.status_code, response.text[:300])
    if route.page:
        to_login = response.status_code == 303 and response.headers["location"].startswith("/login")
        assert to_login or (route.method in UNSAFE and response.status_code == 403), where
        return
    assert response.status_code == 401, where
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["header", "Authorization"] and detail["msg"], where


def assert_refused_to_outsider(route: Route, role: str, response: httpx.Response, markers: set[str]) -> None:
    """A key route refuses case-worker tokens (401); a route naming a region's object answers 403 or 404; a
    list answers 200 (or 403) without any of the region's objects in it (`markers`) that were not asked for."""
    where = (str(route), role, response.status_code, response.text[:300])
    if route.api_key:
        assert response.status_code == 401, where
    elif (route.method, route.path) in REFERENCE_DATA:
        assert response.status_code in (200, 403, 404), where
    elif set(route.params) - FORMAT_PARAMS or route.method in UNSAFE:
        assert response.status_code in (403, 404), where
    elif route.page and response.status_code == 303:  # a landing page sending the role to its own start page
        assert not response.headers["location"].startswith(("/login", "http")), where
    else:
        assert response.status_code in (200, 403), where
    asked = str(response.request.url) + response.request.content.decode(errors="replace")
    leaked = {m for m in markers if m in response.text and m not in asked}  # an error may repeat what was asked
    assert not leaked, (*where[:3], f"shows {leaked}")

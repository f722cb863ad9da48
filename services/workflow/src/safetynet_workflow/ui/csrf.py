"""CSRF tokens of the UI's form posts (CONTRACT.md, Security: every UI form POST carries a per-session token;
without it 403).

- A signed-in page's token is an HMAC of its login session's id, keyed from workflow's token signing key:
  every replica computes the same token without shared state, and nobody without the session cookie (which
  is httpOnly) can compute it.
- The login form has no session yet: a signed double-submit cookie (`safetynet_login_csrf`, a random nonce
  with its HMAC) whose value the form must repeat.

`csrf_protect` is the dependency of every page router (registry, `main.py`); templates print the token with
`{{ csrf_field() }}` inside each `<form method="post">`."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from fastapi import Request, Response

from safetynet_core.auth import AuthError, VerifiedToken, verify_claims
from safetynet_core.keys import load_signing_key, signing_key
from safetynet_core.settings import CoreSettings
from safetynet_core.web import app_settings
from safetynet_workflow.ui.session import SESSION_COOKIE, secure_cookies

CSRF_FIELD = "csrf_token"
LOGIN_COOKIE = "safetynet_login_csrf"
LOGIN_COOKIE_SECONDS = 2 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Form posts made before there is a session; they check the login token themselves (auth/pages.py).
PRE_SESSION_PATHS = frozenset({"/login"})


class CsrfRefused(Exception):
    """A form post without the token of its session (answered 403 by the app's handler)."""


@functools.lru_cache(maxsize=8)
def _key(path: str, kid: str) -> bytes:
    """The HMAC key of CSRF tokens, derived from the token signing key (`kid` renews it with the key)."""
    private = load_signing_key(Path(path)).key
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    return hashlib.sha256(b"safetynet csrf v1\x00" + der).digest()


def _mac(settings: CoreSettings, message: str) -> str:
    key = _key(str(settings.jwt_private_key_file), signing_key(settings).kid)
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def session_csrf(settings: CoreSettings, verified: VerifiedToken) -> str:
    """The CSRF token of a signed-in session (of the token itself for one without a session id)."""
    return _mac(settings, f"session:{verified.session_id or verified.token_id}")


def _same(sent: str | None, expected: str) -> bool:
    return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())


async def csrf_protect(request: Request) -> None:
    """Refuse a form post whose `csrf_token` is not its session's (403). A post without a valid session goes
    on to the page, which sends it to the login page without doing anything."""
    if request.method in SAFE_METHODS or request.url.path in PRE_SESSION_PATHS:
        return
    settings = app_settings(request)
    try:
        verified = verify_claims(settings, request.cookies.get(SESSION_COOKIE) or "")
    except AuthError:
        return
    sent = (await request.form()).get(CSRF_FIELD)
    if not _same(sent if isinstance(sent, str) else None, session_csrf(settings, verified)):
        raise CsrfRefused


def login_token(request: Request) -> str:
    """The login form's token: the one in the visitor's cookie when it is genuine, else a new one."""
    settings = app_settings(request)
    current = request.cookies.get(LOGIN_COOKIE, "")
    nonce, _, mac = current.partition(".")
    if nonce and _same(mac, _mac(settings, f"login:{nonce}")):
        return current
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_mac(settings, f'login:{nonce}')}"


def login_token_valid(request: Request, sent: str | None) -> bool:
    """The login form repeats its genuine cookie (double submit)."""
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    return bool(cookie) and _same(sent, cookie) and login_token(request) == cookie


def page_token(request: Request) -> str:
    """The token a page's forms carry: the login form's (set by the login page), else the session's."""
    login: str | None = getattr(request.state, "login_csrf", None)
    if login:
        return login
    verified: VerifiedToken | None = getattr(request.state, "verified", None)
    return session_csrf(app_settings(request), verified) if verified else ""


def keep_login_token(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE, token, max_age=LOGIN_COOKIE_SECONDS, httponly=True, samesite="strict",
        secure=secure_cookies(request), path="/login",
    )  # fmt: skip

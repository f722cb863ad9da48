"""Login, logout and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import OAuth2PasswordRequestForm

from safetynet_core.errors import ApiError
from safetynet_workflow.auth.api import LoginGuardDep, UserStoreDep, sign_in, sign_out
from safetynet_workflow.deps import SettingsDep
from safetynet_workflow.ui.csrf import CSRF_FIELD, keep_login_token, login_token, login_token_valid
from safetynet_workflow.ui.i18n import LANG_COOKIE, Lang
from safetynet_workflow.ui.render import page
from safetynet_workflow.ui.session import end_session, safe_next, secure_cookies, session_token, start_session

router = APIRouter()
YEAR_SECONDS = 365 * 24 * 3600


def login_form(request: Request, next: str, username: str = "", status_code: int = 200, failed: str = "") -> Response:
    """The login page; its form carries the login CSRF token, which its cookie repeats (double submit).
    `failed` names the message shown (a key under `login.`)."""
    token = request.state.login_csrf = login_token(request)
    response = page(request, "login.html", status_code, next=safe_next(next), failed=failed, username=username)
    keep_login_token(response, request, token)
    return response


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    return login_form(request, next)


@router.post("/login")
async def login(
    request: Request,
    store: UserStoreDep,
    guard: LoginGuardDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    """The API's password check and token, kept in the session cookie; 403 without the login form's CSRF
    token, 401 on a wrong password, 429 (with Retry-After) when throttled, like the API."""
    if not login_token_valid(request, csrf_token):
        return login_form(request, next, username, 403, "expired")
    credentials = OAuth2PasswordRequestForm(username=username, password=password)
    try:
        issued = await sign_in(credentials, store, guard, settings, request.client.host if request.client else None)
    except ApiError as exc:
        failed = {429: "throttled", 503: "busy"}.get(exc.status, "failed")
        response = login_form(request, next, username, exc.status, failed)
        response.headers.update(exc.headers or {})
        return response
    response = RedirectResponse(safe_next(next), status_code=303)
    start_session(response, request, issued.access_token, settings.jwt_ttl_minutes * 60)
    return response


@router.post("/logout")
async def logout(request: Request, store: UserStoreDep, settings: SettingsDep) -> Response:
    """End the session: the cookie goes, and the token in it fails everywhere even if it was copied."""
    token = session_token(request)
    if token:
        await sign_out(store, settings, token)
    response = RedirectResponse("/login", status_code=303)
    end_session(response)
    return response


@router.get("/lang/{lang}")
async def switch_language(request: Request, lang: Lang, next: str = "/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        LANG_COOKIE, lang.value, max_age=YEAR_SECONDS, samesite="lax", secure=secure_cookies(request), path="/"
    )
    return response

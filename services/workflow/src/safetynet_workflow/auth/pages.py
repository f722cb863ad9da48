"""Login, logout and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import OAuth2PasswordRequestForm

from safetynet_core.errors import ApiError
from safetynet_workflow.auth.api import UserStoreDep, sign_in, sign_out
from safetynet_workflow.deps import SettingsDep
from safetynet_workflow.ui.i18n import LANG_COOKIE, Lang
from safetynet_workflow.ui.render import page
from safetynet_workflow.ui.session import end_session, safe_next, session_token, start_session

router = APIRouter()
YEAR_SECONDS = 365 * 24 * 3600


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    return page(request, "login.html", next=safe_next(next), failed=False, username="")


@router.post("/login")
async def login(
    request: Request,
    store: UserStoreDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """The API's password check and token, kept in the session cookie."""
    credentials = OAuth2PasswordRequestForm(username=username, password=password)
    try:
        issued = await sign_in(credentials, store, settings)
    except ApiError:
        return page(request, "login.html", status_code=401, next=safe_next(next), failed=True, username=username)
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
async def switch_language(lang: Lang, next: str = "/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, lang.value, max_age=YEAR_SECONDS, samesite="lax", path="/")
    return response

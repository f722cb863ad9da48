"""The UI's session: the same JWT the API issues, kept in an httpOnly SameSite=Lax cookie. A page
request without a valid one is sent to the login page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request, Response

from safetynet_core.auth import AuthError, Principal
from safetynet_core.web import app_token_verifier

SESSION_COOKIE = "safetynet_session"


def safe_next(target: str | None) -> str:
    """A local path to return to after login or a language switch (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


async def ui_principal(request: Request) -> Principal:
    """The logged-in case worker (a session still open), or a 303 to the login page that returns here."""
    token = session_token(request)
    if token:
        try:
            verified = await app_token_verifier(request).verify(token)
        except AuthError:
            pass
        else:
            request.state.verified = verified  # the page's forms carry its CSRF token (ui/csrf.py)
            return verified.principal
    back = quote(return_path(request), safe="")
    raise HTTPException(303, "login required", headers={"Location": f"/login?next={back}"})


def return_path(request: Request) -> str:
    """Where to come back after logging in: this page, or for a form post (which cannot be repeated by a
    redirect) the page the form was on, when it is on this site."""
    if request.method in ("GET", "HEAD"):
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc:
        return "/"
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))


UiPrincipal = Annotated[Principal, Depends(ui_principal)]


def secure_cookies(request: Request) -> bool:
    """Cookies are `Secure` when the request came over TLS: directly, or through a trusted proxy (uvicorn's
    `--proxy-headers --forwarded-allow-ips`, which sets the scheme from X-Forwarded-Proto)."""
    return request.url.scheme == "https"


def start_session(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")

"""Sign-in and sign-out (CONTRACT.md, Workflow API): the OAuth2 password flow issues the JWT every service
verifies, tied to a login session; logout revokes it everywhere at once (services ask `introspect`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from safetynet_core.auth import AuthError, Principal, Role, VerifiedToken, issue_token, verify_claims
from safetynet_core.errors import ApiError
from safetynet_core.openapi import error_responses
from safetynet_core.settings import CoreSettings
from safetynet_core.tokens import ActiveCheck, RevocationCheck
from safetynet_core.web import CurrentPrincipal
from safetynet_workflow.auth.store import UserStore
from safetynet_workflow.auth.throttle import LoginGuard
from safetynet_workflow.deps import BearerToken, SettingsDep, adapter

router = APIRouter(prefix="/v1", tags=["auth"])
UserStoreDep = Annotated[UserStore, Depends(adapter(UserStore))]
LoginGuardDep = Annotated[LoginGuard, Depends(adapter(LoginGuard))]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)


async def sign_in(
    form: OAuth2PasswordRequestForm, store: UserStore, guard: LoginGuard, settings: CoreSettings, address: str | None
) -> Token:
    """Check the password (throttled per username and client `address`); a JWT carrying role, region and
    department (no PII) for a new session, or 401 (429 when throttled)."""
    for field in ("username", "password"):
        if "\x00" in getattr(form, field):
            raise ApiError(422, "must not contain NUL (\\u0000) characters", ["body", field])
    user = await store.user(form.username)
    ok = await guard.check_password(form.username, address, user["password_hash"] if user else None, form.password)
    if not ok or user is None:
        raise ApiError(401, "wrong username or password", ["body", "username"], headers={"WWW-Authenticate": "Bearer"})
    principal = Principal(
        subject=user["username"],
        role=Role(user["role"]),
        region=user["region_code"],
        department=user["department"],
    )
    ttl = timedelta(minutes=settings.jwt_ttl_minutes)
    session_id = await store.open_session(principal.subject, ttl)
    return Token(access_token=issue_token(settings, principal, session_id=session_id, ttl=ttl))


async def sign_out(store: UserStore, settings: CoreSettings, token: str) -> None:
    """End the token's session (a token that does not verify has nothing to end)."""
    try:
        verified = verify_claims(settings, token)
    except AuthError:
        return
    if verified.session_id:
        await store.revoke_session(verified.session_id)


def session_checks(store: UserStore) -> tuple[ActiveCheck, RevocationCheck]:
    """The workflow's own revocation check (its session store) and the introspection answer for the other
    services, both reading the current state."""

    async def is_active(verified: VerifiedToken) -> bool:
        return await store.session_active(verified.session_id, verified.principal.subject)

    async def revocation(_token: str, verified: VerifiedToken) -> None:
        if not await is_active(verified):
            raise AuthError("token revoked")

    return is_active, revocation


@router.post("/auth/token", response_model=Token, responses=error_responses(401, 429))
async def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    store: UserStoreDep,
    guard: LoginGuardDep,
    settings: SettingsDep,
) -> Token:
    """OAuth2 password flow: a JWT carrying role, region and department (no PII). After 5 failed attempts
    for a username (50 for a client address) within 15 minutes: 429 with Retry-After."""
    return await sign_in(form, store, guard, settings, request.client.host if request.client else None)


@router.post("/auth/logout", status_code=204)
async def logout(_: CurrentPrincipal, token: BearerToken, store: UserStoreDep, settings: SettingsDep) -> Response:
    """End this token's session: it (and any copy of it) fails at once in every service."""
    await sign_out(store, settings, token)
    return Response(status_code=204)

"""Sign-in (CONTRACT.md, Workflow API): the OAuth2 password flow issues the JWT every service verifies."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from safetynet_core.auth import Principal, Role, issue_token, verify_secret
from safetynet_core.errors import ApiError
from safetynet_core.settings import CoreSettings
from safetynet_workflow.auth.store import UserStore
from safetynet_workflow.deps import SettingsDep, adapter

router = APIRouter(prefix="/v1", tags=["auth"])
UserStoreDep = Annotated[UserStore, Depends(adapter(UserStore))]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


async def sign_in(form: OAuth2PasswordRequestForm, store: UserStore, settings: CoreSettings) -> Token:
    """Check the password; a JWT carrying role, region and department (no PII), or 401."""
    for field in ("username", "password"):
        if "\x00" in getattr(form, field):
            raise ApiError(422, "must not contain NUL (\\u0000) characters", ["body", field])
    user = await store.user(form.username)
    ok = user is not None and await asyncio.to_thread(verify_secret, user["password_hash"], form.password)
    if not ok or user is None:
        raise ApiError(401, "wrong username or password", ["body", "username"], headers={"WWW-Authenticate": "Bearer"})
    principal = Principal(
        subject=user["username"],
        role=Role(user["role"]),
        region=user["region_code"],
        department=user["department"],
    )
    return Token(access_token=issue_token(settings, principal))


@router.post("/auth/token", response_model=Token)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], store: UserStoreDep, settings: SettingsDep
) -> Token:
    """OAuth2 password flow: a JWT carrying role, region and department (no PII)."""
    return await sign_in(form, store, settings)

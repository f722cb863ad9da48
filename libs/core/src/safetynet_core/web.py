"""FastAPI dependencies shared by the services: settings from app state and the case-worker principal."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from safetynet_core.auth import AuthError, AuthUnavailable, Principal, Role
from safetynet_core.errors import ApiError
from safetynet_core.settings import CoreSettings
from safetynet_core.tokens import TokenVerifier, token_verifier

_bearer = HTTPBearer(auto_error=False, description="Case-worker JWT from POST /v1/auth/token")


def app_settings(request: Request) -> CoreSettings:
    settings: CoreSettings = request.app.state.settings
    return settings


def app_token_verifier(request: Request) -> TokenVerifier:
    """`app.state.token_verifier` when the app set one (workflow: with its session-store check), else the
    default verifier of the app's settings, built once."""
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        verifier = request.app.state.token_verifier = token_verifier(app_settings(request))
    return verifier


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    loc = ["header", "Authorization"]
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "missing bearer token", loc, headers={"WWW-Authenticate": "Bearer"})
    try:
        return (await app_token_verifier(request).verify(credentials.credentials)).principal
    except AuthUnavailable as exc:
        raise ApiError(503, str(exc), loc, "auth_unavailable", headers={"Retry-After": "5"}) from exc
    except AuthError as exc:
        raise ApiError(401, str(exc), loc, headers={"WWW-Authenticate": "Bearer"}) from exc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
# A list's region filter: a code prefix (inside the caller's scope, or 403).
RegionFilter = Annotated[str | None, Query(pattern=r"^\d{2,12}$", description="region code prefix")]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """Dependency factory: 403 unless the caller has one of `roles` (admin always passes)."""

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role is not Role.ADMIN and principal.role not in roles:
            raise ApiError(403, f"role {principal.role.value} may not do this", ["header", "Authorization"])
        return principal

    return check


def require_role(principal: Principal, roles: Iterable[str], action: str) -> None:
    """403 unless the caller has one of `roles` (admin always may)."""
    if principal.role is not Role.ADMIN and principal.role.value not in roles:
        raise ApiError(403, f"role {principal.role.value} may not {action}", ["header", "Authorization"])


def require_in_scope(principal: Principal, region_code: str, loc: list[str | int]) -> None:
    """403 unless the region lies inside the caller's scope."""
    if not principal.can_see(region_code):
        raise ApiError(403, f"region {region_code} is outside your scope", loc)


def listing_region(principal: Principal, region_filter: str | None) -> str:
    """The region prefix of a list query: everything for an admin without a filter, else `scoped_region`."""
    if principal.role is Role.ADMIN and not region_filter:
        return ""
    return scoped_region(principal, region_filter)


def scoped_region(principal: Principal, region_filter: str | None) -> str:
    """The region prefix a list query may use; 403 when the filter leaves the caller's scope."""
    try:
        return principal.narrow(region_filter)
    except AuthError as exc:
        raise ApiError(403, str(exc), ["query", "region"]) from exc

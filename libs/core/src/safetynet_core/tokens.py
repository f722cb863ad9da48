"""Case-worker token verification in the services, and the routes workflow serves for it.

- Keys: the public keys given in the settings, or else workflow's JWKS (`GET {auth_url}/.well-known/jwks.json`),
  cached for `jwks_cache_seconds` and fetched again when a token names a key not seen yet (a rotation).
- Revocation: after the signature, every request asks workflow whether the token is still active
  (`POST {auth_url}/v1/auth/introspect`, form `token=<jwt>` → `{"active": bool}`): nothing positive is
  cached, so a logout or a deactivated user fails at once in every service; when workflow cannot be asked
  the request fails closed (503). Workflow itself checks its own session store instead (`revocation=`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any, Protocol

import httpx
from fastapi import APIRouter, Form, Request, Response

from safetynet_core.auth import AuthError, AuthUnavailable, VerifiedToken, decode_token, token_key_id, verify_claims
from safetynet_core.keys import KeyConfigError, VerificationKey, configured_keys, jwks_document, keys_from_jwks
from safetynet_core.logging import get_logger
from safetynet_core.settings import CoreSettings

JWKS_PATH = "/.well-known/jwks.json"
INTROSPECTION_PATH = "/v1/auth/introspect"
# A token naming an unknown key makes the JWKS be fetched again at most this often (forged kids cannot
# turn each request into a fetch).
JWKS_REFETCH_FLOOR_SECONDS = 10.0
REVOKED_MEMORY = 10_000

RevocationCheck = Callable[[str, VerifiedToken], Awaitable[None]]
"""Raises AuthError when a verified token is no longer active (AuthUnavailable when it cannot tell)."""
log = get_logger(__name__)


class KeySource(Protocol):
    async def key(self, kid: str) -> VerificationKey: ...


class StaticKeys:
    """Keys from files (the settings)."""

    def __init__(self, keys: Iterable[VerificationKey]) -> None:
        self._keys = {k.kid: k for k in keys}

    async def key(self, kid: str) -> VerificationKey:
        found = self._keys.get(kid)
        if found is None:
            raise AuthError("token signed with an unknown key")
        return found


class JwksKeys:
    """Workflow's published keys, cached; fetched again after `cache_seconds` or for an unknown key id.
    A failed fetch keeps the keys already known (workflow may be restarting); with none known, 503."""

    def __init__(
        self, url: str, cache_seconds: float, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._url = url
        self._cache_seconds = cache_seconds
        self._timeout = timeout
        self._transport = transport
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    def _due(self, kid: str) -> bool:
        age = time.monotonic() - self._fetched_at
        return age >= self._cache_seconds or (kid not in self._keys and age >= JWKS_REFETCH_FLOOR_SECONDS)

    async def key(self, kid: str) -> VerificationKey:
        if self._due(kid):
            async with self._lock:
                if self._due(kid):
                    await self._refresh()
        found = self._keys.get(kid)
        if found is None:
            raise AuthError("token signed with an unknown key")
        return found

    async def _refresh(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as http:
                response = await http.get(self._url)
                response.raise_for_status()
                keys = keys_from_jwks(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("jwks_fetch_failed", url=self._url, error=type(exc).__name__)
            if not self._keys:
                raise AuthUnavailable("cannot fetch the token keys from the workflow service") from exc
            return
        self._keys = keys
        self._fetched_at = time.monotonic()


class Introspection:
    """Asks the issuer whether a token is still active on every call; only "no" answers are remembered
    (a revoked token never becomes active again)."""

    def __init__(self, url: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._url = url
        self._timeout = timeout
        self._transport = transport
        self._revoked: set[str] = set()

    async def __call__(self, token: str, verified: VerifiedToken) -> None:
        if verified.token_id in self._revoked:
            raise AuthError("token revoked")
        try:
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as http:
                response = await http.post(self._url, data={"token": token})
            answer = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            raise AuthUnavailable("cannot ask the workflow service whether the token is active") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
            raise AuthUnavailable("the workflow service did not say whether the token is active")
        if not answer["active"]:
            if len(self._revoked) >= REVOKED_MEMORY:
                self._revoked.clear()
            self._revoked.add(verified.token_id)
            raise AuthError("token revoked")


class TokenVerifier:
    """Signature and claims (keys by `kid`), then the revocation check if there is one."""

    def __init__(self, keys: KeySource, revocation: RevocationCheck | None = None) -> None:
        self.keys = keys
        self.revocation = revocation

    async def verify(self, token: str) -> VerifiedToken:
        verified = decode_token(token, await self.keys.key(token_key_id(token)))
        if self.revocation is not None:
            await self.revocation(token, verified)
        return verified


def token_verifier(
    settings: CoreSettings,
    *,
    revocation: RevocationCheck | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> TokenVerifier:
    """The verifier a service uses: keys from the settings or workflow's JWKS; revocation by `revocation`
    when given, else by introspection at workflow (unless this service holds the private key: the issuer
    passes its own session-store check, it never asks itself over HTTP)."""
    try:
        static = configured_keys(settings)
    except KeyConfigError as exc:
        raise AuthUnavailable(f"token keys unusable: {exc}") from exc
    base = settings.auth_url.rstrip("/")
    keys: KeySource = (
        StaticKeys(static.values())
        if static
        else JwksKeys(base + JWKS_PATH, settings.jwks_cache_seconds, settings.introspection_timeout_seconds, transport)
    )
    if revocation is None and settings.token_introspection:
        if settings.jwt_private_key_file is not None:
            log.warning("token_issuer_without_revocation_check")
        else:
            revocation = Introspection(base + INTROSPECTION_PATH, settings.introspection_timeout_seconds, transport)
    return TokenVerifier(keys, revocation)


def jwks_router() -> APIRouter:
    """`GET /.well-known/jwks.json`: the public keys of the app's settings (workflow: its signing key and
    the previous key during a rotation)."""
    router = APIRouter()

    @router.get(JWKS_PATH, include_in_schema=False)
    async def jwks(request: Request, response: Response) -> dict[str, Any]:
        settings: CoreSettings = request.app.state.settings
        response.headers["Cache-Control"] = "public, max-age=300"
        return jwks_document(configured_keys(settings).values())

    return router


ActiveCheck = Callable[[VerifiedToken], Awaitable[bool]]
"""Whether a token with a valid signature is still active (its session open, its user active)."""


def introspection_router(is_active: ActiveCheck) -> APIRouter:
    """`POST /v1/auth/introspect` (form `token`) → `{"active": bool}` (RFC 7662's core): false for a token
    that does not verify against the app's keys or that `is_active` rejects. Services call it for every
    case-worker request, so `is_active` must read current state (no cache that outlives a revocation)."""
    router = APIRouter()

    @router.post(INTROSPECTION_PATH, tags=["auth"], summary="Whether a token is still active (for the services)")
    async def introspect(request: Request, token: Annotated[str, Form(max_length=8192)]) -> dict[str, bool]:
        settings: CoreSettings = request.app.state.settings
        try:
            verified = verify_claims(settings, token)
        except AuthError:
            return {"active": False}
        return {"active": bool(await is_active(verified))}

    return router

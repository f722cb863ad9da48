"""Request dependencies: the intake runtime held in app state and the authenticated API client."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request

from safetynet_core.auth import AuthError
from safetynet_core.errors import ApiError
from safetynet_core.ratelimit import TokenBucketLimiter
from safetynet_intake.clients import ApiClient, ClientAuthenticator
from safetynet_intake.relay import OutboxRelay
from safetynet_intake.sealing import Sealer
from safetynet_intake.settings import Settings
from safetynet_intake.writer import EventWriter

_KEY_FORMAT = "Department API key `snk_<client_id>_<secret>` (from `safetynet clients create`)"
_AUTH_LOC = ["header", "Authorization"]
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass
class IntakeRuntime:
    """What the routes need, built in the app lifespan."""

    settings: Settings
    pool: asyncpg.Pool
    authenticator: ClientAuthenticator
    relay: OutboxRelay | None
    writer: EventWriter
    limiter: TokenBucketLimiter = field(init=False)
    future_skew: timedelta = field(init=False)  # clock skew tolerated for `occurred_at` in the future
    sealer: Sealer = field(init=False)  # full ID numbers, kept for the audited reveal

    def __post_init__(self) -> None:
        self.limiter = TokenBucketLimiter(self.settings.rate_limit_per_second, self.settings.rate_limit_burst)
        self.sealer = Sealer(self.settings)
        self.future_skew = timedelta(seconds=self.settings.future_skew_seconds)

    @property
    def notify_external_relay(self) -> bool:
        """Without an in-process relay, inserts NOTIFY a standalone one."""
        return self.relay is None

    def wake_relay(self) -> None:
        if self.relay is not None:
            self.relay.wake()


@dataclass(frozen=True)
class Caller:
    """The authenticated client of a request and the runtime serving it."""

    client: ApiClient
    rt: IntakeRuntime


async def authenticated_caller(request: Request) -> Caller:
    """401 unless `Authorization: Bearer <api_key>` names an active client. Reads the header itself
    (one dependency, no sub-dependencies) because this runs on every request of the hot path."""
    rt: IntakeRuntime = request.app.state.runtime
    scheme, _, api_key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not api_key.strip():
        raise ApiError(401, "missing API key: send Authorization: Bearer <api_key>", _AUTH_LOC, headers=_CHALLENGE)
    try:
        client = await rt.authenticator.authenticate(api_key.strip())
    except AuthError as exc:
        raise ApiError(401, str(exc), _AUTH_LOC, headers=_CHALLENGE) from exc
    rt.limiter.check(client.client_id, "intake")
    return Caller(client, rt)


CurrentCaller = Annotated[Caller, Depends(authenticated_caller)]


async def registry_writer(caller: CurrentCaller) -> Caller:
    """403 unless the client may write the household registry (rural revitalization)."""
    if not caller.client.registry_write:
        raise ApiError(403, f"department {caller.client.department} may not write the household registry", _AUTH_LOC)
    return caller


RegistryCaller = Annotated[Caller, Depends(registry_writer)]
# For /docs: the routes declare this scheme; authentication itself happens in `authenticated_caller`.
SECURITY: dict[str, Any] = {"security": [{"ApiKeyBearer": []}]}
SECURITY_SCHEMES: dict[str, Any] = {"ApiKeyBearer": {"type": "http", "scheme": "bearer", "description": _KEY_FORMAT}}

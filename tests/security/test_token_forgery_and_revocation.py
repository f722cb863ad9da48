"""Case-worker tokens in intake, risk and notify (issue 20): only workflow's private key signs them (the
services fetch its public keys), a token minted with any secret of the repository is refused, and a
revoked session fails at once in every service (introspection at workflow, failing closed).

Workflow is played by a fake on loopback that serves the JWKS and the introspection endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Response

from safetynet_core.auth import Principal, Role, VerifiedToken, issue_token
from safetynet_core.keys import load_signing_key, write_key_pair
from safetynet_core.settings import CoreSettings
from safetynet_core.testing import free_port, serve
from safetynet_core.tokens import introspection_router, jwks_router
from safetynet_intake.info import SERVICE as INTAKE
from safetynet_intake.main import create_app as create_intake
from safetynet_intake.settings import Settings as IntakeSettings
from safetynet_notify.info import SERVICE as NOTIFY
from safetynet_notify.main import create_app as create_notify
from safetynet_notify.settings import Settings as NotifySettings
from safetynet_risk.info import SERVICE as RISK
from safetynet_risk.main import create_app as create_risk
from safetynet_risk.settings import Settings as RiskSettings
from tests.security.conftest import StartService
from tests.security.forgery import forged_tokens
from tests.security.support import VILLAGE, Running, bearer

pytestmark = pytest.mark.integration
# One case-worker read per service; any answer but 401/503 means the token was accepted.
READS = {"intake": "/v1/data-quality", "risk": "/v1/households/H-none/risk", "notify": "/v1/deliveries"}


@dataclass
class FakeWorkflow:
    """The issuer: signs tokens, publishes its key, answers introspection from its session list."""

    settings: CoreSettings
    revoked: set[str] = field(default_factory=set)
    failing: bool = False

    def app(self) -> FastAPI:
        async def is_active(verified: VerifiedToken) -> bool:
            return verified.session_id not in self.revoked

        app = FastAPI()
        app.state.settings = self.settings
        app.include_router(jwks_router())

        @app.middleware("http")
        async def fail_when_asked(request: Any, call_next: Any) -> Any:
            return Response(status_code=500) if self.failing else await call_next(request)

        app.include_router(introspection_router(is_active))
        return app

    def token(self, session_id: str) -> dict[str, str]:
        principal = Principal(subject="officer", role=Role.COUNTY_OFFICER, region=VILLAGE[:6])
        return bearer(issue_token(self.settings, principal, session_id=session_id))


@dataclass
class Stack:
    workflow: FakeWorkflow
    services: dict[str, Running]
    kid: str


@pytest.fixture
async def stack(start_service: StartService, tmp_path: Path) -> AsyncIterator[Stack]:
    write_key_pair(tmp_path / "workflow.pem")
    workflow = FakeWorkflow(CoreSettings(jwt_private_key_file=tmp_path / "workflow.pem"))
    async with AsyncExitStack() as exits:
        auth_url = await exits.enter_async_context(serve(workflow.app()))
        # the services hold no key at all: they fetch workflow's JWKS and ask it about every token
        keyless: dict[str, Any] = {"jwt_private_key_file": None, "jwt_public_key_files": [], "auth_url": auth_url,
                                   "token_introspection": True}  # fmt: skip
        services = {
            "intake": await exits.enter_async_context(start_service(INTAKE, IntakeSettings, create_intake, **keyless)),
            "risk": await exits.enter_async_context(
                start_service(RISK, RiskSettings, create_risk, consumer_enabled=False, **keyless)
            ),
            "notify": await exits.enter_async_context(start_service(NOTIFY, NotifySettings, create_notify, **keyless)),
        }
        yield Stack(workflow, services, load_signing_key(tmp_path / "workflow.pem").kid)


async def statuses(stack: Stack, headers: dict[str, str]) -> dict[str, int]:
    return {name: (await s.http.get(READS[name], headers=headers)).status_code for name, s in stack.services.items()}


async def test_tokens_signed_with_any_secret_of_the_repository_are_refused(stack: Stack) -> None:
    """The finding: an HS256 admin token signed with the development default secret read every case."""
    assert await statuses(stack, stack.workflow.token("s-1")) == {"intake": 200, "risk": 404, "notify": 200}
    checked = 0
    for what, token in forged_tokens((stack.kid,)):
        for name, svc in stack.services.items():
            response = await svc.http.get(READS[name], headers=bearer(token))
            assert response.status_code == 401, (name, what, response.status_code, response.text)
            checked += 1
    assert checked > 300


async def test_a_revoked_session_fails_at_once_in_every_service_and_checks_fail_closed(stack: Stack) -> None:
    """The finding: logout left the 8-hour token valid (and nothing could deactivate a user)."""
    first, second = stack.workflow.token("s-1"), stack.workflow.token("s-2")
    accepted = {"intake": 200, "risk": 404, "notify": 200}
    assert await statuses(stack, first) == accepted
    stack.workflow.revoked.add("s-1")  # logout: the very next request is refused everywhere
    assert await statuses(stack, first) == {"intake": 401, "risk": 401, "notify": 401}
    assert await statuses(stack, second) == accepted
    stack.workflow.failing = True  # workflow cannot answer: refuse rather than trust
    assert await statuses(stack, second) == {"intake": 503, "risk": 503, "notify": 503}
    stack.workflow.failing = False
    assert await statuses(stack, second) == accepted


async def test_a_service_that_cannot_reach_workflow_refuses_tokens(start_service: StartService) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    issuer = CoreSettings()  # the test session's key
    token = bearer(issue_token(issuer, Principal("officer", Role.COUNTY_OFFICER, VILLAGE[:6]), session_id="s"))
    keyless = {"jwt_private_key_file": None, "auth_url": nowhere, "token_introspection": True}
    async with start_service(RISK, RiskSettings, create_risk, consumer_enabled=False, **keyless) as risk:
        assert (await risk.http.get(READS["risk"], headers=token)).status_code == 503  # no keys to check with
    with_key = {**keyless, "jwt_public_key_files": [str(issuer.jwt_private_key_file).replace(".pem", ".pub.pem")]}
    async with start_service(RISK, RiskSettings, create_risk, consumer_enabled=False, **with_key) as risk:
        assert (await risk.http.get(READS["risk"], headers=token)).status_code == 503  # nobody to ask

"""The stack `make up` started refuses, in every service, an admin token signed with any secret or key
found in the repository (issue 20: its secrets are generated into .local/secrets.env, never taken from here)."""

from __future__ import annotations

import httpx
import pytest

from safetynet_core.keys import keys_from_jwks
from tests.security.forgery import forged_tokens

pytestmark = pytest.mark.e2e

# One token-guarded read per service.
READS = {
    "INTAKE_URL": "/v1/data-quality",
    "RISK_URL": "/v1/households/H-none/risk",
    "WORKFLOW_URL": "/v1/tasks",
    "NOTIFY_URL": "/v1/deliveries",
}


@pytest.mark.parametrize("service", sorted(READS))
async def test_tokens_signed_with_repository_secrets_are_refused(stack: dict[str, str], service: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        jwks = await http.get(f"{stack['WORKFLOW_URL']}/.well-known/jwks.json")
        kids = tuple(keys_from_jwks(jwks.json())) if jwks.status_code == 200 else ()
        url = stack[service] + READS[service]
        for what, token in forged_tokens(kids):
            response = await http.get(url, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, (service, what, response.status_code)

"""Asymmetric tokens: keys, rotation, JWKS, introspection (fake issuer over httpx.MockTransport: no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from safetynet_core.auth import (
    AuthError,
    AuthUnavailable,
    Principal,
    Role,
    VerifiedToken,
    issue_token,
    verify_claims,
    verify_token,
)
from safetynet_core.errors import install_error_handlers
from safetynet_core.keys import jwks_document, keys_from_jwks, load_signing_key, public_key_path, write_key_pair
from safetynet_core.settings import CoreSettings
from safetynet_core.tokens import (
    Introspection,
    JwksKeys,
    StaticKeys,
    TokenVerifier,
    introspection_router,
    jwks_router,
    token_verifier,
)
from safetynet_core.web import CurrentPrincipal

OLD_DEVELOPMENT_SECRET = "safetynet-local-development-signing-key-change-me"
ADMIN = Principal("intruder", Role.ADMIN, "")


@pytest.fixture
def keys(tmp_path: Path) -> Callable[[str], Path]:
    """`keys(name)` writes a fresh Ed25519 pair and returns the private key's path."""

    def make(name: str, algorithm: Any = "EdDSA") -> Path:
        path = tmp_path / f"{name}.pem"
        write_key_pair(path, algorithm)
        return path

    return make


def issuer(private: Path, *previous: Path) -> CoreSettings:
    return CoreSettings(jwt_private_key_file=private, jwt_public_key_files=[public_key_path(p) for p in previous])


def holder(*privates: Path, **overrides: Any) -> CoreSettings:
    """A service that holds public keys only."""
    return CoreSettings(
        jwt_private_key_file=None, jwt_public_key_files=[public_key_path(p) for p in privates], **overrides
    )


def claims_of(principal: Principal = ADMIN, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "sub": principal.subject, "role": principal.role.value, "region": principal.region, "aud": "safetynet",
        "iss": "safetynet-workflow", "iat": now, "exp": now + timedelta(hours=1), "jti": "j1", **extra,
    }


def test_hmac_and_unsigned_tokens_are_refused_whatever_the_secret(keys: Callable[..., Path]) -> None:
    """The finding: an HS256 admin token signed with the development default secret was accepted."""
    private = keys("signing")
    settings = holder(private)
    kid = load_signing_key(private).kid
    public_pem = public_key_path(private).read_text()
    forged = [
        jwt.encode(claims_of(), OLD_DEVELOPMENT_SECRET, algorithm="HS256"),
        hs256(claims_of(), OLD_DEVELOPMENT_SECRET.encode(), kid),
        hs256(claims_of(), public_pem.encode(), kid),  # algorithm confusion: the public key as HMAC secret
        jwt.encode(claims_of(), "", algorithm="none", headers={"kid": kid}),
    ]
    for token in forged:
        with pytest.raises(AuthError):
            verify_token(settings, token)
        with pytest.raises(AuthError):
            asyncio.run(TokenVerifier(StaticKeys(settings_keys(settings))).verify(token))


def hs256(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """An HS256 token built by hand (PyJWT refuses a PEM key as an HMAC secret)."""
    import base64
    import hashlib
    import hmac
    import json

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    body = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}
    signing_input = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode()) + "." + part(
        json.dumps(body).encode()
    )
    return signing_input + "." + part(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def settings_keys(settings: CoreSettings) -> list[Any]:
    from safetynet_core.keys import configured_keys

    return list(configured_keys(settings).values())


def test_only_the_private_key_signs_and_services_need_only_the_public_key(keys: Callable[..., Path]) -> None:
    private, stranger = keys("signing"), keys("stranger")
    token = issue_token(issuer(private), ADMIN, session_id="s-1")
    assert verify_token(holder(private), token) == ADMIN
    verified = verify_claims(holder(private), token)
    assert verified.session_id == "s-1" and len(verified.token_id) == 32
    with pytest.raises(AuthError, match="unknown key"):
        verify_token(holder(stranger), token)
    with pytest.raises(Exception, match="SAFETYNET_JWT_PRIVATE_KEY_FILE"):
        issue_token(holder(private), ADMIN)
    # a token signed by another key but claiming the right kid fails on the signature
    header_kid = load_signing_key(private).kid
    forged = jwt.encode(claims_of(), load_signing_key(stranger).key, algorithm="EdDSA", headers={"kid": header_kid})
    with pytest.raises(AuthError, match="invalid"):
        verify_token(holder(private), forged)


def test_rs256_keys_work_and_short_rsa_keys_are_refused(keys: Callable[..., Path], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = keys("rsa", "RS256")
    token = issue_token(issuer(private), ADMIN)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert verify_token(holder(private), token) == ADMIN
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (refused on purpose)
    weak = tmp_path / "weak.pem"
    weak.write_bytes(
        short.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ValidationError, match="2048"):
        CoreSettings(jwt_private_key_file=weak)


def test_rotation_accepts_two_keys_until_the_old_one_is_dropped(keys: Callable[..., Path]) -> None:
    old, new = keys("old"), keys("new")
    old_token = issue_token(issuer(old), ADMIN)
    rotating = issuer(new, old)  # workflow signs with the new key and still publishes the old one
    new_token = issue_token(rotating, ADMIN)
    assert jwt.get_unverified_header(new_token)["kid"] == load_signing_key(new).kid
    for token in (old_token, new_token):
        assert verify_token(rotating, token) == ADMIN
        assert verify_token(holder(new, old), token) == ADMIN
    assert {k["kid"] for k in jwks_document(settings_keys(rotating))["keys"]} == {
        load_signing_key(old).kid, load_signing_key(new).kid,
    }
    with pytest.raises(AuthError):
        verify_token(holder(new), old_token)


def test_the_development_default_of_a_secret_is_refused_outside_development() -> None:
    from safetynet_intake.settings import Settings as IntakeSettings

    with pytest.raises(ValidationError, match="SAFETYNET_ID_HASH_PEPPER holds its development default"):
        IntakeSettings(env="production")
    with pytest.raises(ValidationError, match="SAFETYNET_ID_SEALING_KEY holds its development default"):
        IntakeSettings(env="production", id_hash_pepper="p" * 40)
    assert IntakeSettings(env="development").is_development
    given = IntakeSettings(env="production", id_hash_pepper="p" * 40, id_sealing_key="k" * 40)
    assert given.id_hash_pepper.get_secret_value() == "p" * 40 and given.id_sealing_key.get_secret_value() == "k" * 40


class FakeIssuer:
    """Workflow's JWKS and introspection, over httpx.MockTransport."""

    def __init__(self, settings: CoreSettings) -> None:
        self.settings = settings
        self.revoked: set[str] = set()
        self.down = False
        self.calls: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if self.down:
            raise httpx.ConnectError("refused", request=request)
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json=jwks_document(settings_keys(self.settings)))
        if request.url.path == "/v1/auth/introspect":
            token = dict(httpx.QueryParams(request.content.decode()))["token"]
            active = verify_claims(self.settings, token).session_id not in self.revoked
            return httpx.Response(200, json={"active": active})
        return httpx.Response(404)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


async def test_a_service_without_key_files_uses_the_jwks_and_fails_closed(keys: Callable[..., Path]) -> None:
    private = keys("signing")
    fake = FakeIssuer(issuer(private))
    source = JwksKeys("http://workflow.test/.well-known/jwks.json", 300, 1, fake.transport())
    verifier = TokenVerifier(source)
    token = issue_token(fake.settings, ADMIN)
    assert (await verifier.verify(token)).principal == ADMIN
    assert (await verifier.verify(token)).principal == ADMIN
    assert fake.calls.count("/.well-known/jwks.json") == 1  # cached
    # a key workflow started using after the fetch is picked up by a fetch for its unknown kid
    newer = keys("newer")
    fake.settings = issuer(newer, private)
    source._fetched_at -= 11  # past the refetch floor for unknown kids
    assert (await verifier.verify(issue_token(fake.settings, ADMIN))).principal == ADMIN
    assert fake.calls.count("/.well-known/jwks.json") == 2
    # workflow unreachable: known keys keep working, an empty cache fails closed (503)
    fake.down = True
    source._fetched_at -= 1000
    assert (await verifier.verify(token)).principal == ADMIN
    cold = TokenVerifier(JwksKeys("http://workflow.test/.well-known/jwks.json", 300, 1, fake.transport()))
    with pytest.raises(AuthUnavailable):
        await cold.verify(token)


async def test_introspection_revokes_at_once_and_fails_closed(keys: Callable[..., Path]) -> None:
    private = keys("signing")
    fake = FakeIssuer(issuer(private))
    introspection = Introspection("http://workflow.test/v1/auth/introspect", 1, fake.transport())
    verifier = TokenVerifier(StaticKeys(settings_keys(holder(private))), introspection)
    token = issue_token(fake.settings, ADMIN, session_id="s-1")
    other = issue_token(fake.settings, ADMIN, session_id="s-2")
    assert (await verifier.verify(token)).principal == ADMIN
    assert (await verifier.verify(token)).principal == ADMIN
    assert fake.calls.count("/v1/auth/introspect") == 2  # asked every time: no positive caching
    fake.revoked.add("s-1")
    with pytest.raises(AuthError, match="revoked"):
        await verifier.verify(token)
    assert (await verifier.verify(other)).principal == ADMIN
    fake.down = True
    with pytest.raises(AuthUnavailable):
        await verifier.verify(other)
    with pytest.raises(AuthError, match="revoked"):  # remembered: no call needed to refuse it again
        await verifier.verify(token)
    garbled = Introspection("http://x/", 1, httpx.MockTransport(lambda r: httpx.Response(200, text="<html>")))
    with pytest.raises(AuthUnavailable):
        await TokenVerifier(StaticKeys(settings_keys(holder(private))), garbled).verify(other)


def test_token_verifier_chooses_keys_and_revocation_from_the_settings(keys: Callable[..., Path]) -> None:
    private = keys("signing")
    service = token_verifier(holder(private))
    assert isinstance(service.keys, StaticKeys) and isinstance(service.revocation, Introspection)
    jwks = token_verifier(holder(auth_url="http://wf.test:8003/"))
    assert isinstance(jwks.keys, JwksKeys) and jwks.keys._url == "http://wf.test:8003/.well-known/jwks.json"
    assert token_verifier(holder(private, token_introspection=False)).revocation is None
    assert token_verifier(issuer(private)).revocation is None  # the issuer checks its own session store

    async def own_store(token: str, verified: VerifiedToken) -> None:
        return None

    assert token_verifier(issuer(private), revocation=own_store).revocation is own_store


def test_workflow_routes_serve_the_jwks_and_introspection(keys: Callable[..., Path]) -> None:
    private, old = keys("signing"), keys("old")
    settings = issuer(private, old)
    revoked_sessions = {"gone"}

    async def is_active(verified: VerifiedToken) -> bool:
        return verified.session_id not in revoked_sessions

    app = FastAPI()
    app.state.settings = settings
    app.include_router(jwks_router())
    app.include_router(introspection_router(is_active))
    with TestClient(app) as client:
        document = client.get("/.well-known/jwks.json").json()
        assert set(keys_from_jwks(document)) == {load_signing_key(private).kid, load_signing_key(old).kid}
        assert all("d" not in jwk for jwk in document["keys"])  # public members only
        live = issue_token(settings, ADMIN, session_id="here")
        dead = issue_token(settings, ADMIN, session_id="gone")
        forged = jwt.encode(claims_of(), OLD_DEVELOPMENT_SECRET, algorithm="HS256")
        answers = [client.post("/v1/auth/introspect", data={"token": t}).json() for t in (live, dead, forged)]
        assert answers == [{"active": True}, {"active": False}, {"active": False}]


def test_current_principal_answers_401_for_bad_tokens_and_503_when_it_cannot_check(
    keys: Callable[..., Path],
) -> None:
    private = keys("signing")
    fake = FakeIssuer(issuer(private))
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings = holder(private)
    introspection = Introspection("http://wf.test/v1/auth/introspect", 1, fake.transport())
    app.state.token_verifier = TokenVerifier(StaticKeys(settings_keys(holder(private))), introspection)

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"sub": principal.subject}

    token = issue_token(fake.settings, ADMIN, session_id="s")
    with TestClient(app) as client:
        assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).json() == {"sub": "intruder"}
        forged = jwt.encode(claims_of(), OLD_DEVELOPMENT_SECRET, algorithm="HS256")
        refused = client.get("/me", headers={"Authorization": f"Bearer {forged}"})
        assert refused.status_code == 401 and refused.json()["detail"][0]["loc"] == ["header", "Authorization"]
        fake.down = True
        unavailable = client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert unavailable.status_code == 503 and unavailable.headers["Retry-After"]
        fake.down, fake.revoked = False, {"s"}
        assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401

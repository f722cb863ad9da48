"""Auth primitives: JWTs signed by the workflow service with its private key (EdDSA or RS256) and verified
everywhere with public keys, region scoping, argon2 hashing of passwords and API keys (with a short
in-process cache of verified keys). Asynchronous verification with JWKS and revocation: `tokens.py`."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from safetynet_core.keys import KeyConfigError, VerificationKey, configured_keys, signing_key
from safetynet_core.settings import CoreSettings

JWT_ALGORITHMS = ("EdDSA", "RS256")
JWT_AUDIENCE = "safetynet"
JWT_ISSUER = "safetynet-workflow"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "role", "region", "jti", "aud", "iss"]
_hasher = PasswordHasher()


class Role(StrEnum):
    GRID_WORKER = "grid_worker"
    VILLAGE_CADRE = "village_cadre"
    TOWNSHIP_OFFICER = "township_officer"
    COUNTY_OFFICER = "county_officer"
    DEPARTMENT_OFFICER = "department_officer"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Department(StrEnum):
    MEDICAL_INSURANCE = "medical_insurance"
    CIVIL_AFFAIRS = "civil_affairs"
    EMERGENCY_MANAGEMENT = "emergency_management"
    HUMAN_RESOURCES = "human_resources"
    EDUCATION = "education"
    HOUSING = "housing"
    WATER = "water"
    DISABILITY_FEDERATION = "disability_federation"
    POLICE = "police"
    RURAL_REVITALIZATION = "rural_revitalization"
    SELF_SERVICE = "self_service"
    GRID = "grid"


class AuthError(Exception):
    """Raised when a credential is missing, malformed, expired, revoked or wrong."""


class AuthUnavailable(AuthError):
    """The token could not be checked (the issuer's keys or introspection unreachable): fail closed, 503."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: no PII, just identity, role and the region prefix they may see."""

    subject: str
    role: Role
    region: str
    department: str | None = None

    def can_see(self, region_code: str) -> bool:
        return self.role is Role.ADMIN or region_code.startswith(self.region)

    def narrow(self, region_filter: str | None) -> str:
        """The effective region prefix of a query: the filter if it lies inside the scope, else the scope."""
        if region_filter and region_filter.startswith(self.region):
            return region_filter
        if region_filter and not self.region.startswith(region_filter):
            raise AuthError(f"region {region_filter} is outside your scope")
        return self.region


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims checked out: who it is for, and what revocation is keyed on."""

    principal: Principal
    token_id: str
    session_id: str | None
    expires_at: datetime
    claims: dict[str, Any] = field(compare=False, repr=False)


def issue_token(
    settings: CoreSettings, principal: Principal, *, session_id: str | None = None, ttl: timedelta | None = None
) -> str:
    """A JWT for `principal`, signed with the private key (workflow only). `session_id` (claim `sid`) names
    the login session it belongs to, so that logout and deactivation can revoke it; every token carries a
    unique `jti` and the signing key's `kid`."""
    key = signing_key(settings)
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": principal.subject,
        "role": principal.role.value,
        "region": principal.region,
        "dept": principal.department,
        "aud": JWT_AUDIENCE,
        "iss": JWT_ISSUER,
        "iat": now,
        "exp": now + (ttl or timedelta(minutes=settings.jwt_ttl_minutes)),
        "jti": uuid.uuid4().hex,
    }
    if session_id is not None:
        claims["sid"] = session_id
    return jwt.encode(claims, key.key, algorithm=key.algorithm, headers={"kid": key.kid})


def token_key_id(token: str) -> str:
    """The `kid` of a token's header (unverified: it only picks the key to verify with)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise AuthError("invalid or expired token") from exc
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or header.get("alg") not in JWT_ALGORITHMS:
        raise AuthError("invalid or expired token")
    return kid


def decode_token(token: str, key: VerificationKey) -> VerifiedToken:
    """Check the signature with `key` (its one algorithm only: never HS256 or `none`) and the claims."""
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm],
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
        principal = Principal(subject=claims["sub"], role=Role(claims["role"]), region=claims["region"],
                              department=claims.get("dept"))
        sid = claims.get("sid")
        return VerifiedToken(principal, str(claims["jti"]), str(sid) if sid is not None else None,
                             datetime.fromtimestamp(claims["exp"], UTC), claims)
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise AuthError("invalid or expired token") from exc


def verify_claims(settings: CoreSettings, token: str) -> VerifiedToken:
    """Signature and claims against the keys in the settings (no JWKS fetch, no revocation check)."""
    kid = token_key_id(token)
    try:
        key = configured_keys(settings).get(kid)
    except KeyConfigError as exc:
        raise AuthUnavailable(f"token keys unusable: {exc}") from exc
    if key is None:
        raise AuthError("token signed with an unknown key")
    return decode_token(token, key)


def verify_token(settings: CoreSettings, token: str) -> Principal:
    """The token's principal, checked against the keys in the settings. This is no revocation check: the
    services check through `tokens.TokenVerifier` (introspection), workflow against its session store."""
    return verify_claims(settings, token).principal


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(hashed: str, secret: str) -> bool:
    try:
        return _hasher.verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False


def new_api_key(client_id: str) -> str:
    """`snk_<client_id>_<random>`: the client id lets us find the stored hash without scanning."""
    return f"snk_{client_id}_{secrets.token_urlsafe(32)}"


def client_id_of(api_key: str) -> str:
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "snk" or not parts[1]:
        raise AuthError("malformed API key")
    return parts[1]


class VerifiedKeyCache:
    """Remembers keys that passed argon2 for `ttl` seconds, so a hot path pays the hash once a minute."""

    def __init__(self, ttl: float = 60.0, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[float, object]] = {}

    @staticmethod
    def _fingerprint(api_key: str) -> str:
        return hashlib.sha256(api_key.encode()).hexdigest()

    def get(self, api_key: str) -> object | None:
        entry = self._entries.get(self._fingerprint(api_key))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, api_key: str, value: object) -> None:
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[self._fingerprint(api_key)] = (time.monotonic() + self._ttl, value)

    def forget_client(self, predicate: object) -> None:
        self._entries = {k: v for k, v in self._entries.items() if v[1] != predicate}

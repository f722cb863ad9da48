"""Auth primitives: JWTs issued by the workflow service and verified everywhere, region scoping,
argon2 hashing of passwords and API keys (with a short in-process cache of verified keys)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from safetynet_core.settings import CoreSettings

JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "safetynet"
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
    """Raised when a credential is missing, malformed, expired or wrong."""


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


def issue_token(settings: CoreSettings, principal: Principal) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": principal.subject,
        "role": principal.role.value,
        "region": principal.region,
        "dept": principal.department,
        "aud": JWT_AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=settings.jwt_ttl_minutes),
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=JWT_ALGORITHM)


def verify_token(settings: CoreSettings, token: str) -> Principal:
    try:
        claims = jwt.decode(token, settings.jwt_secret, algorithms=[JWT_ALGORITHM], audience=JWT_AUDIENCE,
                            options={"require": ["exp", "sub", "role", "region"]})
        return Principal(subject=claims["sub"], role=Role(claims["role"]), region=claims["region"],
                         department=claims.get("dept"))
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise AuthError("invalid or expired token") from exc


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

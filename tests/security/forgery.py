"""Tokens an outsider can mint: admin tokens signed with every secret-looking string and every private key
found in the repository (and the development default of earlier versions), in every algorithm, with and
without a `kid`, and unsigned."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from safetynet_core.keys import key_id
from safetynet_core.settings import REPO_ROOT

# The HS256 secret every service accepted before issue 20 (safetynet_core/settings.py, git history).
OLD_DEVELOPMENT_SECRET = "safetynet-local-development-signing-key-change-me"
_SECRETISH_LINE = re.compile(r"secret|key|pepper|passw|token|signing", re.IGNORECASE)
_QUOTED = re.compile(r"""["'`]([^"'`\s]{12,200})["'`]""")
_PEM = re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----", re.DOTALL)
_SKIP = (".lock", ".png", ".jpg", ".ico", ".woff", ".woff2", ".gz", ".pdf", ".xlsx")


def _tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [f for f in listed.stdout.splitlines() if not f.endswith(_SKIP)]


@cache
def repository_secrets() -> tuple[tuple[str, ...], tuple[bytes, ...]]:
    """(secret-looking strings, PEM private keys) in the repository's tracked files."""
    strings = {OLD_DEVELOPMENT_SECRET}
    keys: set[bytes] = set()
    for name in _tracked_files():
        path = REPO_ROOT / name
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        keys |= {m.group(0).encode() for m in _PEM.finditer(text)}
        for line in text.splitlines():
            if _SECRETISH_LINE.search(line):
                strings |= set(_QUOTED.findall(line))
    return tuple(sorted(strings)), tuple(sorted(keys))


def admin_claims() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "sub": "intruder", "role": "admin", "region": "", "dept": None, "aud": "safetynet",
        "iss": "safetynet-workflow", "iat": now, "exp": now + timedelta(hours=1), "jti": "forged", "sid": "forged",
    }  # fmt: skip


def _part(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_token(secret: bytes, algorithm: str = "HS256", kid: str | None = None) -> str:
    """Signed by hand: PyJWT refuses some secrets (PEM text) as HMAC keys, an attacker does not."""
    header: dict[str, Any] = {"alg": algorithm, "typ": "JWT", **({"kid": kid} if kid else {})}
    claims = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in admin_claims().items()}
    signing_input = f"{_part(json.dumps(header).encode())}.{_part(json.dumps(claims).encode())}"
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[algorithm]
    return f"{signing_input}.{_part(hmac.new(secret, signing_input.encode(), digest).digest())}"


def forged_tokens(kids: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """(what it is, token): every repository secret as an HMAC key, every repository private key, unsigned;
    each also under the `kid`s of the real keys (`kids`)."""
    strings, pems = repository_secrets()
    for secret in strings:
        for kid in (None, *kids):
            yield f"HS256 {secret[:40]!r} kid={kid}", hmac_token(secret.encode(), "HS256", kid)
        yield f"HS512 {secret[:40]!r}", hmac_token(secret.encode(), "HS512")
    for pem in pems:
        key = serialization.load_pem_private_key(pem, password=None)
        public = key.public_key()
        algorithm = "EdDSA" if "Ed25519" in type(key).__name__ else "RS256"
        own_kid = key_id(public)  # type: ignore[arg-type]
        for kid in (own_kid, *kids):
            yield f"{algorithm} repository key kid={kid}", jwt.encode(
                admin_claims(), key, algorithm=algorithm, headers={"kid": kid}  # type: ignore[arg-type]
            )
    for kid in (None, *kids):
        header = {"kid": kid} if kid else None
        yield f"unsigned kid={kid}", jwt.encode(admin_claims(), "", algorithm="none", headers=header)

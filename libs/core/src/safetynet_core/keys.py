"""Token signing keys: the workflow service's private key (Ed25519 for EdDSA, or RSA for RS256), the public
keys every service trusts, key ids (RFC 7638 thumbprints, so one key file has one `kid` everywhere) and the
JWKS document workflow publishes. Key rotation: docs/SECURITY.md."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

if TYPE_CHECKING:
    from safetynet_core.settings import CoreSettings

Algorithm = Literal["EdDSA", "RS256"]
PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey
PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
MIN_RSA_BITS = 2048
# The members of each key type that make up its RFC 7638 thumbprint.
_THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}


class KeyConfigError(ValueError):
    """A key file that is missing, unreadable or of a kind tokens may not be signed with."""


@dataclass(frozen=True)
class VerificationKey:
    """A public key tokens are checked against, with its key id and the one algorithm it accepts."""

    kid: str
    algorithm: Algorithm
    key: PublicKey

    def jwk(self) -> dict[str, Any]:
        """The key as a JWK for the JWKS document."""
        return {**_public_jwk(self.key), "kid": self.kid, "alg": self.algorithm, "use": "sig"}


@dataclass(frozen=True)
class SigningKey:
    """The private key tokens are signed with (workflow only)."""

    kid: str
    algorithm: Algorithm
    key: PrivateKey

    @property
    def public(self) -> VerificationKey:
        return VerificationKey(self.kid, self.algorithm, self.key.public_key())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_jwk(key: PublicKey) -> dict[str, Any]:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return dict(OKPAlgorithm.to_jwk(key, as_dict=True))
    return {k: v for k, v in RSAAlgorithm.to_jwk(key, as_dict=True).items() if k in ("kty", "n", "e")}


def key_id(key: PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url)."""
    jwk = _public_jwk(key)
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def _algorithm(key: PublicKey | PrivateKey, source: str) -> Algorithm:
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyConfigError(f"{source}: RSA keys need at least {MIN_RSA_BITS} bits")
        return "RS256"
    raise KeyConfigError(f"{source}: only Ed25519 (EdDSA) and RSA (RS256) keys sign tokens")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyConfigError(f"cannot read key file {path}: {exc.strerror}") from exc


@functools.lru_cache(maxsize=16)
def _load_private(path: str, _mtime_ns: int) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(_read(Path(path)), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyConfigError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise KeyConfigError(f"{path}: only Ed25519 (EdDSA) and RSA (RS256) keys sign tokens")
    return SigningKey(key_id(key.public_key()), _algorithm(key, path), key)


@functools.lru_cache(maxsize=64)
def _load_public(path: str, _mtime_ns: int) -> VerificationKey:
    try:
        key = serialization.load_pem_public_key(_read(Path(path)))
    except (ValueError, TypeError) as exc:
        raise KeyConfigError(f"{path} is not a PEM public key") from exc
    if not isinstance(key, ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        raise KeyConfigError(f"{path}: only Ed25519 (EdDSA) and RSA (RS256) keys sign tokens")
    return VerificationKey(key_id(key), _algorithm(key, path), key)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError as exc:
        raise KeyConfigError(f"cannot read key file {path}: {exc.strerror}") from exc


def load_signing_key(path: Path) -> SigningKey:
    """The private key in `path` (re-read when the file changes)."""
    return _load_private(str(path), _mtime(path))


def load_verification_key(path: Path) -> VerificationKey:
    return _load_public(str(path), _mtime(path))


def signing_key(settings: CoreSettings) -> SigningKey:
    """The configured private key; only the workflow service has one."""
    if settings.jwt_private_key_file is None:
        raise KeyConfigError("SAFETYNET_JWT_PRIVATE_KEY_FILE is not set: only the workflow service signs tokens")
    return load_signing_key(settings.jwt_private_key_file)


def configured_keys(settings: CoreSettings) -> dict[str, VerificationKey]:
    """The public keys given in the settings (the private key's own public half first), by key id; empty
    when the service is to fetch workflow's JWKS instead."""
    keys: list[VerificationKey] = []
    if settings.jwt_private_key_file is not None:
        keys.append(signing_key(settings).public)
    keys += [load_verification_key(p) for p in settings.jwt_public_key_files]
    return {k.kid: k for k in keys}


def jwks_document(keys: Iterable[VerificationKey]) -> dict[str, Any]:
    """`{"keys": [JWK...]}` as served at /.well-known/jwks.json."""
    return {"keys": [k.jwk() for k in keys]}


def keys_from_jwks(document: Any) -> dict[str, VerificationKey]:
    """The usable signing keys of a JWKS document (others are skipped); ValueError when it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    found: dict[str, VerificationKey] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        try:
            key = (OKPAlgorithm if jwk.get("kty") == "OKP" else RSAAlgorithm).from_jwk(jwk)
            if not isinstance(key, ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
                continue
            algorithm = _algorithm(key, "JWKS")
        except (ValueError, KeyError, TypeError):  # a private JWK, an unknown curve, a short RSA key
            continue
        kid = key_id(key)
        if jwk.get("alg", algorithm) == algorithm and jwk.get("kid", kid) == kid:
            found[kid] = VerificationKey(kid, algorithm, key)
    return found


def generate_private_key_pem(algorithm: Algorithm = "EdDSA") -> bytes:
    key: PrivateKey = (
        ed25519.Ed25519PrivateKey.generate()
        if algorithm == "EdDSA"
        else rsa.generate_private_key(public_exponent=65537, key_size=3072)
    )
    encoding, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    return key.private_bytes(encoding, pkcs8, serialization.NoEncryption())


def write_key_pair(private_path: Path, algorithm: Algorithm = "EdDSA") -> SigningKey:
    """A new private key at `private_path` (mode 600) and its public key next to it (`.pub.pem`)."""
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(generate_private_key_pem(algorithm))
    key = load_signing_key(private_path)
    public_pem = key.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_key_path(private_path).write_bytes(public_pem)
    return key


def public_key_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name.removesuffix(".pem") + ".pub.pem")

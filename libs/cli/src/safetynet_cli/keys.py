"""`safetynet keys`: the token signing key pair (the workflow service signs; every service verifies)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from safetynet_core.keys import KeyConfigError, load_signing_key, public_key_path, write_key_pair

keys_app = typer.Typer(help="Token signing keys (docs/SECURITY.md: rotation).", no_args_is_help=True)


@keys_app.command("generate")
def generate(
    path: Path = typer.Argument(..., help="where the private key goes (mode 600); the public key: <name>.pub.pem"),
    algorithm: str = typer.Option("EdDSA", help="EdDSA (Ed25519) or RS256 (RSA 3072)"),
    if_missing: bool = typer.Option(False, "--if-missing", help="keep a key already there"),
) -> None:
    """Write a new key pair and print its key id."""
    if algorithm not in ("EdDSA", "RS256"):
        typer.echo("error: --algorithm must be EdDSA or RS256", err=True)
        raise typer.Exit(2)
    try:
        if path.exists():
            if not if_missing:
                typer.echo(f"error: {path} exists; a rotation writes a new file (docs/SECURITY.md)", err=True)
                raise typer.Exit(1)
            key = load_signing_key(path)
        else:
            key = write_key_pair(path, "EdDSA" if algorithm == "EdDSA" else "RS256")
    except KeyConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps({"kid": key.kid, "algorithm": key.algorithm, "private_key": str(path),
                           "public_key": str(public_key_path(path))}))

"""The versioned policy: monitoring lines, warnings, scoring, levels, step definitions and SLAs.

Everything a county may tune lives in a YAML file validated by these models (`policy/default.yaml`
ships the defaults from DESIGN.md; `SAFETYNET_POLICY_FILE` picks another)."""

from __future__ import annotations

import hashlib
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from safetynet_core.policy.exchange import ExchangePolicy
from safetynet_core.policy.risk import RiskPolicy
from safetynet_core.policy.workflow import WorkflowPolicy

__all__ = ["ExchangePolicy", "Policy", "PolicyError", "RiskPolicy", "WorkflowPolicy", "load_policy", "parse_policy"]


class PolicyError(ValueError):
    """The policy file is missing, not YAML, or does not match the schema."""


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    effective_from: date
    description: str = ""
    risk: RiskPolicy
    workflow: WorkflowPolicy
    exchange: ExchangePolicy = ExchangePolicy()

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]


def parse_policy(data: Any) -> Policy:
    from pydantic import ValidationError

    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(str(exc)) from exc


def _read(path: Path, seen: tuple[Path, ...] = ()) -> Any:
    """A policy file's data; a file that `extends` another (a path relative to it) overrides its keys."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or "extends" not in data:
        return data  # the schema says what is wrong with anything else
    base_path = (path.parent / str(data.pop("extends"))).resolve()
    if base_path in seen:
        raise PolicyError(f"policy files extend each other in a circle: {base_path}")
    return _overlay(_read(base_path, (*seen, path.resolve())), data)


def _overlay(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` applied key by key (mappings merged, anything else replaced)."""
    merged = dict(base)
    for key, value in changes.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _overlay(merged[key], value) if both else value
    return merged


def load_policy(path: Path | str) -> Policy:
    """The policy in a YAML file (which may `extends: other.yaml` and change only some keys)."""
    return parse_policy(_read(Path(path)))


@lru_cache(maxsize=8)
def cached_policy(path: str) -> Policy:
    return load_policy(path)

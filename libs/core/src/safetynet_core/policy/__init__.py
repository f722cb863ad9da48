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


def load_policy(path: Path | str) -> Policy:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file is not valid YAML: {exc}") from exc
    return parse_policy(data)


@lru_cache(maxsize=8)
def cached_policy(path: str) -> Policy:
    return load_policy(path)

"""docker-compose.yml is valid compose-spec and names only things that exist (no engine here to run it)."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

from safetynet_core.settings import REPO_ROOT, CoreSettings
from tests.unit.deploy.settings_env import env_names, required_settings

COMPOSE = REPO_ROOT / "docker-compose.yml"
CONTRACT_PORTS = {"intake": 8001, "risk": 8002, "workflow": 8003, "notify": 8004}


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_matches_the_compose_spec_schema() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_builds_from_a_dockerfile_that_exists_and_runs_a_real_app() -> None:
    services = _compose()["services"]
    for name, port in CONTRACT_PORTS.items():
        spec = services[name]
        dockerfile = REPO_ROOT / spec["build"]["dockerfile"]
        assert dockerfile.exists(), dockerfile
        assert spec["ports"] == [f"{port}:{port}"]
        text = dockerfile.read_text()
        assert f"safetynet_{name}.main:create_app" in text and str(port) in text
        module = importlib.import_module(f"safetynet_{name}.main")
        assert callable(module.create_app)
    base = (REPO_ROOT / "deploy/docker/base.Dockerfile").read_text()
    for copied in ("libs", "services", "policy", "uv.lock"):
        assert copied in base


def _settings(service: str) -> type[BaseSettings]:
    settings: type[BaseSettings] = importlib.import_module(f"safetynet_{service}.settings").Settings
    return settings


def test_environment_variables_are_ones_the_settings_read() -> None:
    services = _compose()["services"]
    for name in CONTRACT_PORTS:
        known = env_names(_settings(name))
        for variable in services[name]["environment"]:
            assert variable in known, f"{name} sets {variable}, which no setting reads"
    for variable in services["migrate"]["environment"]:
        assert variable in env_names(CoreSettings), f"migrate sets {variable}, which no setting reads"


def _from_key_file(services: dict[str, Any], service: str) -> set[str]:
    """Variables the service's command sources from a file the migrate job writes (the workflow's intake key)."""
    command = " ".join(services[service].get("command", []))
    sourced = re.findall(r"\. (/keys/[\w.-]+)", command)
    script = " ".join(services["migrate"]["command"])
    return {name for path in sourced if path in script for name in re.findall(r"(\w+)=\{", script)}


def test_every_setting_without_a_safe_default_is_set() -> None:
    """A default naming this machine or a development secret, or a needed setting without one, is set for
    every service (else the feature fails quietly outside `make up`: notifications, reports, sweeps)."""
    services = _compose()["services"]
    for name in CONTRACT_PORTS:
        provided = set(services[name]["environment"]) | _from_key_file(services, name)
        for setting, names in required_settings(_settings(name)).items():
            assert names & provided, f"{name}: {setting} ({' or '.join(sorted(names))}) is not set"


def test_mounted_paths_exist() -> None:
    for name, spec in _compose()["services"].items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"

"""How the CLI and stack scripts find the risk service."""

from pathlib import Path

from safetynet_core.service import ServiceInfo

SERVICE = ServiceInfo(
    name="risk",
    schema="risk",
    port=8002,
    migrations_dir=Path(__file__).parent / "migrations",
    app_factory="safetynet_risk.main:create_app",
)

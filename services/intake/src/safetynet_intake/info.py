"""How the CLI and stack scripts find the intake service."""

from pathlib import Path

from safetynet_core.service import ServiceInfo

SERVICE = ServiceInfo(
    name="intake",
    schema="intake",
    port=8001,
    migrations_dir=Path(__file__).parent / "migrations",
    app_factory="safetynet_intake.main:create_app",
)

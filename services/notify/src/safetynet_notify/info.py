"""How the CLI and stack scripts find the notify service."""

from pathlib import Path

from safetynet_core.service import ServiceInfo

SERVICE = ServiceInfo(
    name="notify",
    schema="notify",
    port=8004,
    migrations_dir=Path(__file__).parent / "migrations",
    app_factory="safetynet_notify.main:create_app",
)

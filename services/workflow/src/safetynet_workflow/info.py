"""How the CLI and stack scripts find the workflow service."""

from pathlib import Path

from safetynet_core.service import ServiceInfo

SERVICE = ServiceInfo(
    name="workflow",
    schema="workflow",
    port=8003,
    migrations_dir=Path(__file__).parent / "migrations",
    app_factory="safetynet_workflow.main:create_app",
)

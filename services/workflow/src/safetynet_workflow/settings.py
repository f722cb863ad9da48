"""Workflow service settings (environment, fail fast)."""

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr

from safetynet_core.settings import CoreSettings


class Settings(CoreSettings):
    service_name: str = "workflow"
    workflow_task_queue: str = "safetynet-workflow"
    consumer_group: str = "workflow"
    consumer_batch: int = Field(200, gt=0, le=5000)
    consumer_concurrency: int = Field(64, gt=0, le=1000)
    run_worker: bool = True
    run_consumer: bool = True
    inspection_enabled: bool = True
    temporal_search_attributes: bool = True
    workflow_sandbox: Literal["full", "passthrough", "off"] = "passthrough"
    gauge_refresh_seconds: float = Field(15, gt=0)
    # Field operations post to intake like any department: sweep findings as `grid_report` events (a
    # `grid` client's key), approved registry corrections as registry updates (a `rural_revitalization` key).
    intake_url: str = "http://127.0.0.1:8001"
    intake_grid_api_key: SecretStr | None = None
    intake_registry_api_key: SecretStr | None = None
    notify_url: str = Field(
        "http://127.0.0.1:8004", validation_alias=AliasChoices("NOTIFY_URL", "SAFETYNET_NOTIFY_URL")
    )

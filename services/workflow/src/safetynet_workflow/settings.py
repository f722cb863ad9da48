"""Workflow service settings (environment, fail fast)."""

from typing import Literal

from pydantic import Field

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

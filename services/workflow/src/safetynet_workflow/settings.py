"""Workflow service settings (environment, fail fast)."""

import ipaddress
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator

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
    # How long a case that opened before the household directory had its registry record waits for it (the
    # record precedes any assessment of the household, so it arrives soon); then the case learns it later.
    household_facts_wait_seconds: float = Field(20.0, ge=0)
    # Case pages and reports show notify's deliveries (asked with the caller's own token).
    notify_url: str = Field(
        "http://127.0.0.1:8004", validation_alias=AliasChoices("SAFETYNET_NOTIFY_URL", "NOTIFY_URL")
    )
    intake_grid_api_key: SecretStr | None = None
    intake_registry_api_key: SecretStr | None = None
    # Login throttling (CONTRACT.md, Security), counted in the database so it holds across processes:
    # past this many failed attempts within the window, a username (or a client address) gets 429 with
    # Retry-After until its oldest counted failure leaves the window. An address gets a much higher
    # limit than a username, so an office behind one NAT address keeps working.
    login_max_failures_per_user: int = Field(5, ge=1)
    login_max_failures_per_address: int = Field(50, ge=1)
    login_failure_window_seconds: float = Field(900.0, gt=0)
    # Each password check costs an argon2 hash (64 MiB): at most this many run at once in a process, and
    # past `login_max_waiting` queued attempts a login answers 503 with Retry-After instead of waiting.
    login_max_concurrent_hashes: int = Field(2, ge=1)
    login_max_waiting: int = Field(32, ge=0)
    # The TLS ingress's addresses (comma-separated IPs or CIDRs). Uvicorn trusts X-Forwarded-Proto and
    # X-Forwarded-For from these only (`--proxy-headers --forwarded-allow-ips`, passed by deploy/local/stack.sh
    # and deploy/k8s/workflow.yaml), so behind the proxy the UI's cookies are `Secure` and login throttling
    # counts the real client address. Never `*`: any client could then choose the address it is counted under.
    forwarded_allow_ips: str = Field(
        "127.0.0.1", validation_alias=AliasChoices("SAFETYNET_FORWARDED_ALLOW_IPS", "FORWARDED_ALLOW_IPS")
    )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        for entry in value.split(","):
            ipaddress.ip_network(entry.strip(), strict=False)  # ValueError names the entry
        return value

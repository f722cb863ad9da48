"""Notify service settings (environment, fail fast)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from safetynet_core.settings import CoreSettings
from safetynet_notify.outbound import Network, parse_networks


class Settings(CoreSettings):
    """Channels, delivery retries and SMS policy; env `SAFETYNET_<NAME>`."""

    service_name: str = "notify"
    consumer_group: str = "notify"
    # Registry records from household-events for the exchange purposes (see registry.py).
    registry_consumer_group: str = "notify-registry"
    consume_batch: int = Field(200, ge=1, le=5000)
    default_locale: str = "zh-CN"
    local_timezone: str = "Asia/Shanghai"

    # Delivery: retries with exponential backoff and jitter, then dead letter.
    delivery_max_attempts: int = Field(8, ge=1, le=100)
    delivery_backoff_base_seconds: float = Field(5.0, gt=0)
    delivery_backoff_max_seconds: float = Field(3600.0, gt=0)
    delivery_jitter: float = Field(0.2, ge=0, lt=1)
    delivery_poll_seconds: float = Field(1.0, gt=0)
    delivery_batch: int = Field(50, ge=1, le=1000)
    delivery_concurrency: int = Field(16, ge=1, le=256)
    delivery_lease_seconds: float = Field(120.0, gt=0)

    # Webhooks.
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    # Outbound HTTP (webhooks, exchange pushes, the SMS gateway) goes to global addresses only, and to these
    # networks (comma-separated CIDRs; the development stack of `make up` sets 127.0.0.0/8). outbound.py.
    notify_allowed_networks: Annotated[list[Network], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("NOTIFY_ALLOWED_NETWORKS", "SAFETYNET_NOTIFY_ALLOWED_NETWORKS"),
    )

    # Email over SMTP (disabled when smtp_host is empty).
    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "SafetyNet <noreply@safetynet.local>"
    smtp_timeout_seconds: float = Field(15.0, gt=0)

    # SMS through an HTTP gateway (disabled when sms_gateway_url is empty). The URL may contain {phone}.
    sms_gateway_url: str | None = None
    sms_auth_header: SecretStr | None = Field(
        None, description='"Name: value", e.g. "Authorization: Bearer x"'
    )
    sms_timeout_seconds: float = Field(10.0, gt=0)
    sms_rate_limit_per_hour: int = Field(6, ge=1)
    sms_quiet_start_hour: int = Field(22, ge=0, le=23)
    sms_quiet_end_hour: int = Field(7, ge=0, le=23)
    sms_quiet_override_level: int = Field(2, ge=0)

    @field_validator("notify_allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        return parse_networks(value)

    @field_validator("sms_auth_header")
    @classmethod
    def _header_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and ":" not in value.get_secret_value():
            raise ValueError('SAFETYNET_SMS_AUTH_HEADER must look like "Name: value"')
        return value

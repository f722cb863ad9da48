"""Risk service settings (environment, fail fast)."""

from pydantic import Field

from safetynet_core.settings import CoreSettings


class Settings(CoreSettings):
    service_name: str = "risk"
    consumer_group: str = "risk"
    consumer_enabled: bool = True
    consume_batch: int = Field(1000, ge=1, le=20_000)
    consume_timeout_ms: int = Field(500, ge=10)
    # A publish not acknowledged in this long fails the consumer, which restarts with a fresh producer
    # (an idempotent aiokafka producer can wait forever after the broker restarted).
    publish_timeout_seconds: float = Field(30.0, gt=0)
    # A consume loop with no completed iteration for this long is cancelled and restarted.
    stall_seconds: float = Field(90.0, gt=0)

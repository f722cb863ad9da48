"""Intake service settings (environment, fail fast)."""

from pydantic import Field, SecretStr

from safetynet_core.settings import CoreSettings, development_secret


class Settings(CoreSettings):
    """Intake settings; every field reads `SAFETYNET_<NAME>` from the environment."""

    service_name: str = "intake"
    # Single-event and registry PUT bodies; the batch routes get `batch_max_body_bytes`.
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    batch_max_body_bytes: int = Field(64 * 1024 * 1024, gt=0)
    batch_max_lines: int = Field(10_000, ge=1)
    # An XLSX batch (a zip archive) is refused when its parts unpack to more than this.
    batch_max_unpacked_bytes: int = Field(256 * 1024 * 1024, gt=0)
    # CSV/XLSX date-times without an offset (and date cells) are in this time zone.
    local_timezone: str = "Asia/Shanghai"
    # A batch is written in chunks of this many events, each chunk's insert overlapping the validation of
    # the next (all in the request's one transaction).
    batch_chunk_events: int = Field(1000, ge=1)
    db_pool_size: int = Field(8, ge=1)
    # Group commit of single-event posts (see writer.py): concurrent writer tasks, and the most events
    # one of them writes in a statement.
    event_writers: int = Field(2, ge=1)
    event_group_max: int = Field(500, ge=1, le=10_000)
    # Freeze start-up objects and raise the gen-0 threshold (see main._tune_gc).
    gc_tuning: bool = True
    # How long a verified API key stays trusted without touching the database; a revoked key
    # keeps working in a process for at most this long.
    api_key_cache_ttl: float = Field(30.0, ge=0)
    # Per-client token bucket (requests per second, burst): 429 with Retry-After past it. High by default
    # so bulk loads and benchmarks are not throttled; set per deployment.
    rate_limit_per_second: float = Field(50_000.0, gt=0)
    rate_limit_burst: float = Field(100_000.0, ge=1)
    # Clock skew tolerated for `occurred_at` in the future.
    future_skew_seconds: float = Field(300.0, ge=0)
    # Outbox relay: in the app's lifespan (default) or standalone via `python -m safetynet_intake.relay`.
    intake_run_relay: bool = True
    relay_kafka_bootstrap: str | None = None
    relay_batch_size: int = Field(1000, ge=1, le=50_000)
    relay_poll_interval: float = Field(1.0, gt=0)
    # After a batch that was not full, wait this long before the next one (adds at most this much to
    # publish latency; 0 publishes as soon as anything is there).
    relay_linger_seconds: float = Field(0.02, ge=0, le=1)
    relay_backoff_max: float = Field(10.0, gt=0)
    relay_metrics_port: int | None = None
    # Consumes risk assessments and case events to advance GET /v1/events status to `assessed`.
    intake_run_status_consumer: bool = True
    # Pepper of the ID-number hashes behind the cross-household duplicate check (HMAC-SHA256 key).
    # Changing it makes earlier hashes unmatchable until each household's record is written again.
    id_hash_pepper: SecretStr = development_secret(
        "safetynet-local-development-id-pepper-change-me", "HMAC key of the ID-number hashes"
    )
    # Key that seals full ID numbers at rest (AES-256-GCM of a SHA-256 of this value) for the audited reveal
    # (`POST /v1/households/{id}/members/{member_id}/reveal`); intake alone holds it. A new key makes the
    # numbers sealed before unreadable until each household's record is written again.
    id_sealing_key: SecretStr = development_secret(
        "safetynet-local-development-id-sealing-key-change-me", "key sealing full ID numbers for the audited reveal"
    )

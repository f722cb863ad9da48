"""Settings shared by every service; each service subclasses `CoreSettings` and fails fast on bad config."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[4]
DEFAULT_POLICY_FILE = REPO_ROOT / "policy" / "default.yaml"


class CoreSettings(BaseSettings):
    """Connection and platform settings every service reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="SAFETYNET_", extra="ignore", frozen=True)

    database_url: str = Field(
        "postgresql://safetynet:safetynet@127.0.0.1:55432/safetynet",
        validation_alias=AliasChoices("DATABASE_URL", "SAFETYNET_DATABASE_URL"),
    )
    kafka_bootstrap: str = Field(
        "127.0.0.1:19092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP", "SAFETYNET_KAFKA_BOOTSTRAP")
    )
    temporal_address: str = Field(
        "127.0.0.1:17233", validation_alias=AliasChoices("TEMPORAL_ADDRESS", "SAFETYNET_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = "default"
    policy_file: Path = Field(
        DEFAULT_POLICY_FILE, validation_alias=AliasChoices("SAFETYNET_POLICY_FILE", "POLICY_FILE")
    )
    jwt_secret: str = "safetynet-local-development-signing-key-change-me"
    jwt_ttl_minutes: int = Field(480, gt=0)
    db_schema: str | None = None
    topic_household_events: str = "safetynet.household-events.v1"
    topic_risk_assessments: str = "safetynet.risk-assessments.v1"
    topic_case_events: str = "safetynet.case-events.v1"
    topic_partitions: int = Field(12, ge=1, le=1000)
    # A consumer idle this long with records waiting (or no partitions) has dropped out of its group and is
    # restarted with fresh clients; the risk consumer also restarts a loop with no completed iteration.
    stall_seconds: float = Field(90.0, gt=0)
    # How long the group waits for a consumer that stopped heartbeating (killed, partitioned) before its
    # partitions go to the others: the failover time of a consumer replica.
    kafka_session_timeout_ms: int = Field(20_000, ge=6_000, le=300_000)
    log_level: str = "INFO"
    log_json: bool = True
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    public_base_url: str = "http://127.0.0.1:8003"

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secret(cls, value: str) -> str:
        if len(value) < 32:
            raise ValueError("SAFETYNET_JWT_SECRET must be at least 32 characters")
        return value

    @field_validator("db_schema")
    @classmethod
    def _schema_name(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("_", "").isalnum():
            raise ValueError("db_schema must be letters, digits and underscores")
        return value

    def dlq_topic(self, topic: str, consumer: str) -> str:
        return f"{topic}.dlq.{consumer}"

    @property
    def asyncpg_dsn(self) -> str:
        """The URL without a SQLAlchemy driver suffix, for raw asyncpg."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://").replace(
            "postgres://", "postgresql://", 1
        )

    @property
    def sqlalchemy_url(self) -> str:
        return self.asyncpg_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)

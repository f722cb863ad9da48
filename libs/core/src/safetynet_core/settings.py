"""Settings shared by every service; each service subclasses `CoreSettings` and fails fast on bad config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from safetynet_core.keys import KeyConfigError, load_signing_key, load_verification_key

REPO_ROOT = Path(__file__).resolve().parents[4]
DEFAULT_POLICY_FILE = REPO_ROOT / "policy" / "default.yaml"
DEVELOPMENT = "development"


def development_secret(value: str, description: str) -> Any:
    """A secret's default that only `SAFETYNET_ENV=development` accepts: every other environment must set
    the secret (`make up` generates one into .local/secrets.env), or the service refuses to start."""
    return Field(SecretStr(value), description=description, json_schema_extra={"development_default": True})


def _paths(value: Any) -> Any:
    """A comma-separated list of paths from the environment, or a list as it is."""
    if isinstance(value, str):
        return [Path(p.strip()) for p in value.split(",") if p.strip()]
    return value


class CoreSettings(BaseSettings):
    """Connection and platform settings every service reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="SAFETYNET_", extra="ignore", frozen=True, populate_by_name=True)

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
    # `development` accepts the development defaults of secrets (`development_secret`); nothing else does.
    env: str = Field("production", pattern=r"^[a-z]+$")
    # Tokens (auth.py, keys.py): the workflow service alone holds the private key (PEM: Ed25519, or RSA of
    # at least 2048 bits for RS256). Every service trusts its public half and the public keys listed here
    # (comma-separated PEM files: the previous key during a rotation); a service given none of either
    # fetches workflow's JWKS from `auth_url`.
    jwt_private_key_file: Path | None = None
    jwt_public_key_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    jwt_ttl_minutes: int = Field(480, gt=0)
    # The workflow service's internal address: JWKS (/.well-known/jwks.json) and token introspection
    # (POST /v1/auth/introspect), which every other service asks before it trusts a case-worker token, so
    # that a logout or a deactivated user takes effect at once. Only in-process tests turn it off.
    auth_url: str = "http://127.0.0.1:8003"
    token_introspection: bool = True
    introspection_timeout_seconds: float = Field(3.0, gt=0)
    jwks_cache_seconds: float = Field(300.0, ge=0)
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

    @field_validator("jwt_public_key_files", mode="before")
    @classmethod
    def _path_list(cls, value: Any) -> Any:
        return _paths(value)

    @model_validator(mode="after")
    def _no_development_secrets(self) -> CoreSettings:
        """Fail fast when a secret still holds its development default outside SAFETYNET_ENV=development."""
        if self.env == DEVELOPMENT:
            return self
        for name, field in type(self).model_fields.items():
            extra = field.json_schema_extra
            if isinstance(extra, dict) and extra.get("development_default") and getattr(self, name) == field.default:
                raise ValueError(
                    f"SAFETYNET_{name.upper()} holds its development default; set a secret of your own "
                    "(make up writes them to .local/secrets.env) or run with SAFETYNET_ENV=development"
                )
        return self

    @model_validator(mode="after")
    def _usable_keys(self) -> CoreSettings:
        """Key files given must load now, not at the first request."""
        try:
            if self.jwt_private_key_file is not None:
                load_signing_key(self.jwt_private_key_file)
            for path in self.jwt_public_key_files:
                load_verification_key(path)
        except KeyConfigError as exc:
            raise ValueError(str(exc)) from exc
        return self

    @property
    def is_development(self) -> bool:
        return self.env == DEVELOPMENT

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

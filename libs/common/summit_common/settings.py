"""Settings from the environment (prefix SUMMIT_, plus the conventional NATS_URL / DATABASE_URL)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUMMIT_", extra="ignore")

    nats_url: str = Field(default="nats://127.0.0.1:4222", validation_alias=AliasChoices("NATS_URL", "SUMMIT_NATS_URL"))
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        validation_alias=AliasChoices("DATABASE_URL", "SUMMIT_DATABASE_URL"),
    )
    # Test isolation and multi-environment sharing of one NATS: prefixes every subject and stream.
    subject_prefix: str = ""
    # Appended to every service schema name (tests use it to give each test its own schemas).
    schema_suffix: str = ""

    # "production" refuses to start a service whose declared secrets (Service.production_secrets)
    # are unset, instead of running on their public dev defaults.
    env: str = "dev"

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    max_body_bytes: int = 5 * 1024 * 1024

    jwt_secret: str = Field(default="", description="HS256 key for dev mode; empty means JWKS is required")
    jwt_jwks_url: str = ""
    jwt_audience: str = ""
    jwt_issuer: str = "summit"

    stream_replicas: int = 1
    dedupe_window_seconds: float = 120.0
    # Events (and the personal data in them) leave the bus after this long; consumers have
    # their own copies. 0 keeps them forever. A DSAR erasure cannot reach into the streams.
    stream_max_age_days: float = Field(default=30.0, ge=0)

    batch_size: int = 500
    fetch_timeout_seconds: float = 1.0
    ack_wait_seconds: float = 30.0
    max_deliver: int = 5
    retry_backoff_seconds: tuple[float, ...] = (1.0, 5.0, 15.0, 60.0)

    outbox_poll_seconds: float = 1.0
    outbox_batch_size: int = 500

    log_level: str = "INFO"
    otlp_endpoint: str = Field(default="", validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "SUMMIT_OTLP_ENDPOINT"))

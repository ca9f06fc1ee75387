"""Settings of this service only (the chassis reads its own SUMMIT_* settings). Env prefix IMPACT_IN_."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Dev only: lets `summit up` run without configuration. Production must set IMPACT_IN_SECRET_KEY.
DEV_SECRET_KEY = "impact-in-dev-key-change-me-in-production"


class ImpactInSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IMPACT_IN_", extra="ignore")

    secret_key: SecretStr = Field(default=SecretStr(DEV_SECRET_KEY), description="encrypts partner secrets at rest")
    max_attempts: int = Field(default=6, ge=1, le=50, description="attempts per delivery before it is dead")
    backoff_base_seconds: float = Field(default=5.0, gt=0)
    backoff_max_seconds: float = Field(default=3600.0, gt=0)
    lease_seconds: float = Field(default=120.0, gt=0, description="how long a claimed delivery is hidden from other workers")
    breaker_failures: int = Field(default=5, ge=1, description="consecutive failures that open a platform's breaker")
    breaker_cooldown_seconds: float = Field(default=60.0, gt=0)
    worker_interval_seconds: float = Field(default=1.0, gt=0)
    worker_batch: int = Field(default=20, ge=1, le=500)
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    token_skew_seconds: float = Field(default=60.0, ge=0, description="refresh an OAuth token this long before it expires")
    token_attempts: int = Field(default=3, ge=1, le=10, description="tries of the OAuth token endpoint")
    token_backoff_seconds: float = Field(default=0.5, ge=0)

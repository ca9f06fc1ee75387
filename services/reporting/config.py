"""Settings of the reporting service only (the chassis reads its own SUMMIT_* settings).

REPORTING_IMPACT_URL                 impact-calculator base URL (default: SUMMIT_SERVICE_URLS["impact-calculator"])
SUMMIT_SERVICE_URLS                  JSON {service-name: base URL}; `summit up` sets it
REPORTING_PSEUDONYM_KEY              HMAC key that turns participant refs into pseudonyms (dev default)
REPORTING_SHARE_LINK_SECRET          HMAC key that signs share-link tokens (dev default)
REPORTING_PUBLIC_BASE_URL            prefix of share-link URLs (default "", i.e. a relative /v1/shared/<token>)
REPORTING_GENERATOR                  deterministic (default) | llm
REPORTING_LLM_ENDPOINT/MODEL/API_KEY OpenAI-compatible chat-completions endpoint for the llm generator
REPORTING_LLM_TOKEN_BUDGET           max tokens (prompt + completion) per report (default 8000)
REPORTING_LLM_COST_PER_1K_IN/OUT     price per 1,000 tokens, for per-report cost telemetry
REPORTING_LLM_TIMEOUT_SECONDS        provider request timeout (default 60)
REPORTING_GENERATIONS_PER_HOUR       per company (default 10)
REPORTING_SMTP_HOST/PORT/USER/PASSWORD/STARTTLS/FROM   mail for scheduled reports
REPORTING_SCHEDULE_MAX_ATTEMPTS      per run (default 3); REPORTING_SCHEDULE_BACKOFF_SECONDS between attempts
REPORTING_SCHEDULER_INTERVAL_SECONDS how often the scheduler worker ticks (default 30)
REPORTING_SSE_RING_SIZE              metric updates kept in memory per replica for reconnects (default 1000)
REPORTING_SSE_HEARTBEAT_SECONDS      comment line interval on idle streams (default 15)
REPORTING_SSE_CLIENT_QUEUE           updates buffered per SSE client before it is closed as too slow (default 256)
REPORTING_LOGO_MAX_BYTES             max decoded logo size (default 256 KiB)
"""

from __future__ import annotations

import json
from functools import lru_cache

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_KEY = "reporting-dev-key-change-me"


class ReportingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore", populate_by_name=True)

    impact_url: str = ""
    service_urls: dict[str, str] = Field(default_factory=dict, validation_alias=AliasChoices("SUMMIT_SERVICE_URLS", "service_urls"))
    pseudonym_key: str = DEV_KEY
    share_link_secret: str = DEV_KEY
    public_base_url: str = ""

    generator: str = Field(default="deterministic", pattern="^(deterministic|llm)$")
    llm_endpoint: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_token_budget: int = Field(default=8000, ge=256)
    llm_cost_per_1k_in: float = Field(default=0.0, ge=0)
    llm_cost_per_1k_out: float = Field(default=0.0, ge=0)
    llm_timeout_seconds: float = Field(default=60.0, gt=0)

    generations_per_hour: int = Field(default=10, ge=1)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_from: str = "reports@summit.local"
    schedule_max_attempts: int = Field(default=3, ge=1)
    schedule_backoff_seconds: tuple[float, ...] = (60.0, 300.0, 1800.0)
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)

    sse_ring_size: int = Field(default=1000, ge=1)
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0)
    sse_client_queue: int = Field(default=256, ge=1)

    logo_max_bytes: int = Field(default=256 * 1024, ge=1024)

    @field_validator("service_urls", mode="before")
    @classmethod
    def _parse_urls(cls, value):
        return json.loads(value) if isinstance(value, str) and value else value or {}

    @property
    def impact_base_url(self) -> str:
        return (self.impact_url or self.service_urls.get("impact-calculator", "") or "http://127.0.0.1:8000").rstrip("/")


@lru_cache(maxsize=1)
def settings() -> ReportingSettings:
    return ReportingSettings()

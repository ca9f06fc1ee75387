"""Settings of the api-gateway only (the chassis reads its own SUMMIT_* settings).

SUMMIT_SERVICE_URLS                   JSON {service-name: base URL}; `summit up` sets it for every process
REDIS_URL                             shared membership cache, API-key cache and rate limits; unset: in process
GATEWAY_ROUTES_FILE                   route rules and rate-limit classes (default: routes.yaml beside this file)
GATEWAY_MEMBERSHIP_TTL_SECONDS        membership cache TTL (default 300)
GATEWAY_API_KEY_CACHE_SECONDS         API-key lookup cache TTL (default 30)
GATEWAY_API_KEY_TOKEN_TTL_SECONDS     lifetime of the JWT the gateway signs for an API-key caller (default 300)
GATEWAY_CONNECT_TIMEOUT_SECONDS       upstream connect timeout (default 2)
GATEWAY_UPSTREAM_TIMEOUT_SECONDS      upstream read/write timeout (default 30)
GATEWAY_MAX_CONNECTIONS               connections per upstream service at most (default 100)
GATEWAY_MAX_IDLE_CONNECTIONS          idle keep-alive connections kept per upstream service (default 8)
GATEWAY_HEALTH_TIMEOUT_SECONDS        per-upstream /readyz timeout for /health/* (default 2)
GATEWAY_HEALTH_CACHE_SECONDS          /health/all answers are reused this long (default 2; 0 = never)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ROUTES = Path(__file__).parent / "routes.yaml"


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_urls: dict[str, str] = Field(default_factory=dict, validation_alias=AliasChoices("SUMMIT_SERVICE_URLS", "service_urls"))
    redis_url: str = Field(default="", validation_alias=AliasChoices("REDIS_URL", "redis_url"))
    routes_file: Path = DEFAULT_ROUTES
    membership_ttl_seconds: float = Field(default=300.0, gt=0)
    api_key_cache_seconds: float = Field(default=30.0, gt=0)
    api_key_token_ttl_seconds: int = Field(default=300, ge=30)
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    upstream_timeout_seconds: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=100, ge=1)
    max_idle_connections: int = Field(default=8, ge=0)
    health_timeout_seconds: float = Field(default=2.0, gt=0)
    health_cache_seconds: float = Field(default=2.0, ge=0)

    @field_validator("service_urls")
    @classmethod
    def _urls(cls, value: dict[str, str]) -> dict[str, str]:
        cleaned = {}
        for name, url in value.items():
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ValueError(f"SUMMIT_SERVICE_URLS[{name!r}] must be an http(s) base URL, got {url!r}")
            cleaned[name] = url.rstrip("/")
        return cleaned

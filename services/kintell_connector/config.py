"""Settings of this service only (the chassis reads its own SUMMIT_* settings).

KINTELL_WEBHOOK_SECRET            shared HMAC secret for webhooks of every tenant
KINTELL_WEBHOOK_SECRETS           JSON object tenant -> secret; a tenant listed here uses its own secret
KINTELL_WEBHOOK_TOLERANCE_SECONDS how far X-Kintell-Timestamp may be from our clock (default 300)
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KintellSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KINTELL_", extra="ignore", populate_by_name=True)

    webhook_secret: SecretStr = Field(default=SecretStr(""))
    webhook_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)

    def secret_for(self, tenant: str) -> str | None:
        """The tenant's own secret, else the shared one; None when webhooks are not configured."""
        secret = self.webhook_secrets.get(tenant) or self.webhook_secret
        return secret.get_secret_value() or None

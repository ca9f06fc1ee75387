"""Settings, the expected holders and the clock of privacy-orchestrator.

PRIVACY_HOLDERS                 comma-separated service names that must answer (default: every
                                discovered service that declares personal data, except this one)
PRIVACY_MASTER_KEY              base64 of 32 bytes: the key-encryption key (KEK) that wraps job keys,
                                bundle keys and stored subjects. The default is a DEV-ONLY key.
PRIVACY_PREVIOUS_MASTER_KEYS    comma-separated base64 keys that still unwrap older blobs (rotation)
PRIVACY_EXPORT_TTL_DAYS         how long a finished export bundle can be downloaded (30)
PRIVACY_DELETION_WINDOW_DAYS    default cancellation window of a deletion (30; 0 allowed)
PRIVACY_MAX_ATTEMPTS            requests per holder before it is marked failed (5)
PRIVACY_RETRY_BASE_SECONDS      wait after attempt n before the next: base x 2^(n-1) (300)
PRIVACY_RETRY_MAX_SECONDS       cap of that wait (21600)
PRIVACY_TICK_SECONDS            how often the worker looks for due work (30)

Handlers get no runtime, so these live at module level; tests replace them with `use()`
and move time with `clock.set()`.
"""

from __future__ import annotations

import base64
import functools
from datetime import UTC, datetime

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.privacy_orchestrator.crypto import Keyring

SERVICE_NAME = "privacy-orchestrator"
# A key anyone can read in this file: for a laptop or a test only.
DEV_MASTER_KEY = base64.b64encode(b"summit-dev-only-privacy-kek-0000").decode()


class PrivacySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRIVACY_", extra="ignore")

    holders: str = ""
    master_key: str = DEV_MASTER_KEY
    previous_master_keys: str = ""
    export_ttl_days: int = Field(default=30, ge=1, le=365)
    deletion_window_days: int = Field(default=30, ge=0, le=90)
    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_base_seconds: float = Field(default=300.0, gt=0)
    retry_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    tick_seconds: float = Field(default=30.0, gt=0)

    @field_validator("master_key", "previous_master_keys")
    @classmethod
    def _are_32_bytes(cls, value: str) -> str:
        for key in filter(None, (k.strip() for k in value.split(","))):
            try:
                raw = base64.b64decode(key, validate=True)
            except ValueError:
                raise ValueError("master keys must be base64") from None
            if len(raw) != 32:
                raise ValueError("master keys must decode to 32 bytes")
        return value

    @property
    def keyring(self) -> Keyring:
        previous = [base64.b64decode(k.strip()) for k in self.previous_master_keys.split(",") if k.strip()]
        return Keyring(base64.b64decode(self.master_key), previous)

    @property
    def uses_dev_key(self) -> bool:
        return self.master_key == DEV_MASTER_KEY

    def holder_names(self) -> tuple[str, ...] | None:
        """The configured holders, or None when they are to be discovered."""
        names = sorted({n.strip() for n in self.holders.split(",") if n.strip()})
        return tuple(names) or None


_current: PrivacySettings | None = None


def current() -> PrivacySettings:
    global _current
    if _current is None:
        _current = PrivacySettings()
    return _current


def use(settings: PrivacySettings | None) -> None:
    """Replace the settings (tests); None reloads them from the environment on next use."""
    global _current
    _current = settings


@functools.cache
def _discovered_holders() -> tuple[str, ...]:
    from summit_common.catalog import discover_services  # imports every service, this one included

    return tuple(sorted(name for name, s in discover_services().items()
                        if s.personal_data is not None and name != SERVICE_NAME))


def expected_holders() -> tuple[str, ...]:
    """Who must answer a new request. Discovery runs once per process; each request stores its own set."""
    return current().holder_names() or _discovered_holders()


class Clock:
    """The one place this service reads the time; tests pin it."""

    def __init__(self) -> None:
        self._pinned: datetime | None = None

    def now(self) -> datetime:
        return self._pinned or datetime.now(UTC)

    def set(self, at: datetime | None) -> None:
        self._pinned = at


clock = Clock()

"""Settings of this service only (the chassis reads its own SUMMIT_* settings).

SAFETY_POLICY_PATH           the policy YAML (default: policy/default.yaml in this folder)
SAFETY_POLICY_CHECK_SECONDS  how often, at most, the file's hash is checked for changes (default 10; 0 = every screening)
SAFETY_EXCERPT_CHARS         characters of masked context on each side of the match in a flag's excerpt (default 120)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_POLICY_PATH = Path(__file__).parent / "policy" / "default.yaml"


class SafetySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAFETY_", extra="ignore")

    policy_path: Path = DEFAULT_POLICY_PATH
    policy_check_seconds: float = Field(default=10.0, ge=0, le=3600)
    excerpt_chars: int = Field(default=120, ge=10, le=2000)

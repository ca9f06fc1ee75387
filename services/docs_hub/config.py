"""Settings of this service only (the chassis reads its own SUMMIT_* settings).

DOCS_HUB_REPO_ROOT   the repository checkout a refresh scans (default: the repository this code
                     is installed from, i.e. two folders above services/docs_hub)
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_REPO_ROOT = Path(__file__).resolve().parents[2]


class DocsHubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCS_HUB_", extra="ignore")

    repo_root: Path = DEFAULT_REPO_ROOT

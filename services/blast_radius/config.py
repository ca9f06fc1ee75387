"""Settings of blast-radius only (the chassis reads its own SUMMIT_* settings).

BLAST_RADIUS_RISK_THRESHOLD  an assessment is ready only when its risk is below this (default 0.5)
BLAST_RADIUS_CATALOG_FILE    a `summit catalog export` JSON to assess against; empty (default):
                             the live catalogue of this deployment (summit_common.catalog.export_catalog)
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BlastRadiusSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BLAST_RADIUS_", extra="ignore")

    risk_threshold: float = Field(default=0.5, gt=0, le=1)
    catalog_file: str = ""

"""Per-runtime objects that tests (and the e2e suite) can replace on `runtime.app.state`:

  app.state.clock               () -> aware datetime (default: datetime.now(UTC))
  app.state.reporting_settings  ReportingSettings (default: from the environment)
  app.state.generator           generators.Generator (default: from REPORTING_GENERATOR)
  app.state.impact_client       httpx.AsyncClient whose base_url is impact-calculator (default: built
                                from REPORTING_IMPACT_URL / SUMMIT_SERVICE_URLS on first use)
  app.state.sse_hub             sse.Hub (created and subscribed on first use)
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from services.reporting import config, generators


def utc_now() -> datetime:
    return datetime.now(UTC)


def clock(app: FastAPI) -> datetime:
    return getattr(app.state, "clock", utc_now)()


def cfg(app: FastAPI) -> config.ReportingSettings:
    found = getattr(app.state, "reporting_settings", None)
    if found is None:
        found = app.state.reporting_settings = config.settings()
    return found


def generator(app: FastAPI) -> generators.Generator:
    found = getattr(app.state, "generator", None)
    if found is None:
        found = app.state.generator = generators.from_settings(cfg(app))
    return found


def impact_client(app: FastAPI) -> httpx.AsyncClient:
    found = getattr(app.state, "impact_client", None)
    if found is None:
        found = app.state.impact_client = httpx.AsyncClient(
            base_url=cfg(app).impact_base_url, timeout=httpx.Timeout(10.0, connect=2.0))
    return found

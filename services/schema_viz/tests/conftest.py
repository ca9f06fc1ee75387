"""Fixtures for the schema-viz integration tests: the service on real NATS + Postgres and an HTTP client."""

from __future__ import annotations

import pytest

from services.schema_viz.maps import SOURCE_DIR_ENV
from services.schema_viz.service import service
from services.schema_viz.tests.support import FIXTURE
from tests.fixtures import api_client


@pytest.fixture
async def runtime(start_service, monkeypatch):
    """Serving the fixed synthetic sources (so answers can be compared with the snapshots)."""
    monkeypatch.setenv(SOURCE_DIR_ENV, str(FIXTURE))
    return await start_service(service)


@pytest.fixture
async def client(runtime):
    async with api_client(runtime) as http:
        yield http


@pytest.fixture
async def live_client(start_service, monkeypatch):
    """Serving the live platform's own catalogue and migrations."""
    monkeypatch.delenv(SOURCE_DIR_ENV, raising=False)
    runtime = await start_service(service)
    async with api_client(runtime) as http:
        yield http

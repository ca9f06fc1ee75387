"""Fixtures for upskilling-connector integration tests: the service running on real NATS + Postgres and an
HTTP client on it (`bus`, the JetStream context, comes from tests/fixtures.py)."""

from __future__ import annotations

import pytest

from services.upskilling_connector.service import service
from tests.fixtures import api_client


@pytest.fixture
async def runtime(start_service):
    return await start_service(service)


@pytest.fixture
async def client(runtime):
    async with api_client(runtime) as http:
        yield http

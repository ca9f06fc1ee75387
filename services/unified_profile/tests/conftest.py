"""Fixtures for the unified-profile integration tests: the service on real NATS + Postgres,
a JetStream client to publish and read events, and an HTTP client on the ASGI app."""

from __future__ import annotations

import pytest

from services.unified_profile.service import service
from tests.fixtures import api_client


@pytest.fixture
async def runtime(start_service):
    return await start_service(service)


@pytest.fixture
async def client(runtime):
    async with api_client(runtime) as http:
        yield http

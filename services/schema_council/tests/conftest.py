"""Fixtures for schema-council integration tests: the service on real NATS + Postgres and an
HTTP client on it."""

from __future__ import annotations

import pytest

from services.schema_council.service import service
from tests.fixtures import api_client


@pytest.fixture
async def runtime(start_service):
    return await start_service(service)


@pytest.fixture
async def client(runtime):
    async with api_client(runtime) as c:
        yield c

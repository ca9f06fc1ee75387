from __future__ import annotations

import pytest

from services.impact_calculator.service import service
from tests.fixtures import api_client


@pytest.fixture
async def runtime(start_service):
    return await start_service(service)


@pytest.fixture
async def client(runtime):
    async with api_client(runtime) as http:
        yield http

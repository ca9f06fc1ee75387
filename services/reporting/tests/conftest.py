from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.reporting.config import ReportingSettings
from services.reporting.service import service
from tests.fixtures import api_client
from tests.helpers import ManualClock


@pytest.fixture
def clock():
    return ManualClock(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))


@pytest.fixture
def reporting_settings():
    return ReportingSettings(service_urls={}, generations_per_hour=10, schedule_max_attempts=2,
                             schedule_backoff_seconds=(60.0,), sse_heartbeat_seconds=1.0)


@pytest.fixture
async def runtime(start_service, clock, reporting_settings):
    rt = await start_service(service, workers=False)
    rt.app.state.clock = clock
    rt.app.state.reporting_settings = reporting_settings
    return rt


@pytest.fixture
async def client(runtime):
    async with api_client(runtime) as http:
        yield http

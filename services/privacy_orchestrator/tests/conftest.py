from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.privacy_orchestrator import config
from services.privacy_orchestrator.service import service
from services.privacy_orchestrator.tests import probes
from tests.fixtures import api_client

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def privacy_settings():
    """Holders are the two probes; two attempts, a minute of backoff; the clock pinned at T0."""
    config.use(config.PrivacySettings(holders=",".join(probes.NAMES), max_attempts=2, retry_base_seconds=60,
                                      retry_max_seconds=600))
    config.clock.set(T0)
    probes.BROKEN.clear()
    yield config.current()
    config.use(None)
    config.clock.set(None)
    probes.BROKEN.clear()


@pytest.fixture
async def orchestrator(start_service):
    return await start_service(service, workers=False)  # tests drive worker.run_due with their own `now`


@pytest.fixture
async def holders(start_service, tmp_path):
    started = []
    for name in probes.NAMES:
        runtime = await start_service(probes.probe(name, tmp_path / name))
        await probes.seed(runtime)
        started.append(runtime)
    return started


@pytest.fixture
async def client(orchestrator):
    async with api_client(orchestrator) as http:
        yield http

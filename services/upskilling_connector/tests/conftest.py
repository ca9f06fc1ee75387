"""Fixtures for upskilling-connector integration tests: the service running on real NATS + Postgres,
an HTTP client on it, and a JetStream context to read what it published."""

from __future__ import annotations

import httpx
import nats
import pytest

from services.upskilling_connector.service import service
from summit_common.runtime import ServiceRuntime


@pytest.fixture
async def runtime(settings):
    rt = ServiceRuntime(service, settings)
    await rt.start()
    yield rt
    await rt.stop()


@pytest.fixture
async def client(runtime):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.app), base_url="http://t") as c:
        yield c


@pytest.fixture
async def bus(settings):
    nc = await nats.connect(settings.nats_url)
    yield nc.jetstream()
    await nc.close()

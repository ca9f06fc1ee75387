"""Fixtures for q2q-ai integration tests: the service on real NATS + Postgres, a JetStream
client to publish and read events, and an HTTP client on the ASGI app."""

from __future__ import annotations

import httpx
import nats
import pytest

from services.q2q_ai.service import service
from summit_common.runtime import ServiceRuntime


@pytest.fixture
async def bus(settings):
    nc = await nats.connect(settings.nats_url)
    yield nc.jetstream()
    await nc.close()


@pytest.fixture
async def runtime(settings):
    rt = ServiceRuntime(service, settings)
    await rt.start()
    yield rt
    await rt.stop()


@pytest.fixture
async def client(runtime):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.app), base_url="http://t") as http:
        yield http

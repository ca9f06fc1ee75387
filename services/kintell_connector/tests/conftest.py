"""Fixtures for kintell-connector integration tests: the service running on real NATS + Postgres,
an HTTP client on it, and a JetStream context to read what it published."""

from __future__ import annotations

import json

import pytest

from services.kintell_connector.service import service
from services.kintell_connector.tests.support import BETA_SECRET, WEBHOOK_SECRET
from tests.fixtures import api_client


@pytest.fixture
async def runtime(start_service, monkeypatch):
    monkeypatch.setenv("KINTELL_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("KINTELL_WEBHOOK_SECRETS", json.dumps({"beta": BETA_SECRET}))
    return await start_service(service)


@pytest.fixture
async def client(runtime):
    async with api_client(runtime) as c:
        yield c

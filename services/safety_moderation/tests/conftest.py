"""Fixtures for safety-moderation integration tests: the service on real NATS + Postgres,
pointed (through its settings) at a temporary copy of the default policy, an HTTP client
on its app, and a JetStream context to publish and read events."""

from __future__ import annotations

import pytest

from services.safety_moderation import policy
from services.safety_moderation.config import DEFAULT_POLICY_PATH, SafetySettings
from services.safety_moderation.service import service
from tests.fixtures import api_client


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_bytes(DEFAULT_POLICY_PATH.read_bytes())
    return path


@pytest.fixture
def safety_settings(policy_file) -> SafetySettings:
    # Reloads in these tests are explicit (POST /v1/policy/reload) unless a test says otherwise.
    return SafetySettings(policy_path=policy_file, policy_check_seconds=3600)


@pytest.fixture
async def runtime(start_service, safety_settings):
    policy.configure(safety_settings)
    yield await start_service(service)
    policy.configure(SafetySettings(policy_path=DEFAULT_POLICY_PATH, policy_check_seconds=10))


@pytest.fixture
async def client(runtime):
    async with api_client(runtime) as http:
        yield http

"""Fixtures for docs-hub integration tests: a synthetic checkout in tmp_path (DOCS_HUB_REPO_ROOT),
the service on real NATS + Postgres, and an HTTP client on it."""

from __future__ import annotations

import pytest

from services.docs_hub import scan
from services.docs_hub.service import service
from services.docs_hub.tests.support import frozen_catalogue, make_repo
from tests.fixtures import api_client


@pytest.fixture
def repo(tmp_path, monkeypatch):
    root = make_repo(tmp_path / "checkout")
    monkeypatch.setenv("DOCS_HUB_REPO_ROOT", str(root))
    # The real catalogue, frozen for the session (see support.frozen_catalogue).
    monkeypatch.setattr(scan, "load_catalogue", frozen_catalogue)
    return root


@pytest.fixture
async def runtime(start_service, repo):
    return await start_service(service)


@pytest.fixture
async def client(runtime):
    async with api_client(runtime) as c:
        yield c

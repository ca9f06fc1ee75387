"""Fixtures for blast-radius integration tests: the service on real NATS + Postgres, assessing
against the small demo catalogue (a file, BLAST_RADIUS_CATALOG_FILE) unless a test asks for
Summit's live catalogue."""

from __future__ import annotations

import json

import pytest

from services.blast_radius.service import service
from services.blast_radius.tests.catalogs import demo_catalog
from tests.fixtures import api_client


@pytest.fixture
async def runtime(start_service, monkeypatch, tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(demo_catalog()))
    monkeypatch.setenv("BLAST_RADIUS_CATALOG_FILE", str(path))
    return await start_service(service)


@pytest.fixture
async def client(runtime):
    async with api_client(runtime) as http:
        yield http

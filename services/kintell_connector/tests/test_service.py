"""The service declaration: what the catalogue and the docs endpoints say about it."""

from __future__ import annotations

import pytest

from services.kintell_connector.service import service
from summit_common.catalog import http_routes
from summit_common.privacy import PRIVACY_EMITS

ROUTES = {
    ("/v1/import/kintell-sessions", "POST"), ("/v1/imports/{import_id}", "GET"), ("/v1/sessions", "GET"),
    ("/v1/sessions/{session_id}", "GET"), ("/v1/webhooks/session", "POST"), ("/v1/webhooks/rating", "POST"),
}


def test_catalogue_sees_every_route_and_event():
    assert {(r["path"], m) for r in http_routes(service) for m in r["methods"]} == ROUTES
    assert set(service.emits) == {"kintell.session.scheduled.v1", "kintell.session.completed.v1", "kintell.rating.created.v1",
                                  *PRIVACY_EMITS}
    assert set(service.handlers) == {"privacy.export.requested.v1", "privacy.deletion.requested.v1"}  # DSAR only


@pytest.mark.integration
async def test_openapi_documents_routes_and_webhook_headers(client):
    doc = (await client.get("/openapi.json")).json()
    assert {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops} >= ROUTES
    headers = {p["name"] for p in doc["paths"]["/v1/webhooks/session"]["post"]["parameters"]}
    assert headers == {"X-Summit-Tenant", "X-Kintell-Timestamp", "X-Kintell-Signature"}
    assert (await client.get("/readyz")).json()["ready"] is True

"""The service declaration: what the catalogue and the docs endpoints say about it."""

from __future__ import annotations

import pytest

from services.buddy_service.service import service
from summit_common.catalog import http_routes
from summit_common.privacy import PRIVACY_EMITS

ROUTES = {
    ("/v1/import/{kind}", "POST"), ("/v1/import", "POST"), ("/v1/matches", "POST"), ("/v1/events", "POST"),
    ("/v1/checkins", "POST"), ("/v1/feedback", "POST"), ("/v1/imports/{import_id}", "GET"), ("/v1/matches", "GET"),
    ("/v1/matches/{match_id}", "GET"),
}


def test_catalogue_sees_every_route_and_event():
    assert {(r["path"], m) for r in http_routes(service) for m in r["methods"]} == ROUTES
    assert set(service.emits) == {"buddy.match.created.v1", "buddy.event.logged.v1", "buddy.checkin.completed.v1",
                                  "buddy.feedback.submitted.v1", *PRIVACY_EMITS}
    assert set(service.handlers) == {"privacy.export.requested.v1", "privacy.deletion.requested.v1"}  # DSAR only
    assert (service.name, service.schema) == ("buddy-service", "buddy_service")


@pytest.mark.integration
async def test_docs_endpoints_and_readiness(client, runtime):
    doc = (await client.get("/openapi.json")).json()
    assert {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops} >= ROUTES
    body = doc["paths"]["/v1/feedback"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"][0]["from_role"] == "participant"
    asyncapi = (await client.get("/asyncapi.json")).json()
    assert "buddy.feedback.submitted.v1" in str(asyncapi)
    assert (await client.get("/readyz")).json()["ready"] is True
    # buddy data arrives over HTTP only; the bus brings just the data-subject requests
    assert len(runtime.consumers) == 2

"""The service declaration: what the catalogue and the docs endpoints say about it."""

from __future__ import annotations

import pytest

from services.safety_moderation.service import service
from summit_common.catalog import http_routes
from summit_common.privacy import HANDLED, PRIVACY_EMITS

ROUTES = {
    ("/v1/reviews", "GET"), ("/v1/reviews/{flag_id}", "GET"), ("/v1/reviews/{flag_id}/decision", "POST"),
    ("/v1/screenings/{content_type}/{content_id}", "GET"), ("/v1/policy", "GET"), ("/v1/policy/reload", "POST"),
    ("/v1/screen", "POST"),
}
CONSUMES = {"buddy.feedback.submitted.v1", "buddy.checkin.completed.v1", "kintell.session.completed.v1",
            "kintell.rating.created.v1", *HANDLED}
EMITS = {"safety.text.screened.v1", "safety.flag.raised.v1", "safety.review.completed.v1", *PRIVACY_EMITS}


def test_catalogue_sees_every_route_and_event():
    assert service.name == "safety-moderation" and service.schema == "safety_moderation"
    assert {(r["path"], m) for r in http_routes(service) for m in r["methods"]} == ROUTES
    assert set(service.handlers) == CONSUMES
    assert set(service.emits) == EMITS
    assert set(service.personal_data.categories) == {"screenings", "flags"}


@pytest.mark.integration
async def test_openapi_asyncapi_and_readiness(client):
    doc = (await client.get("/openapi.json")).json()
    assert {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops} >= ROUTES
    asyncapi = (await client.get("/asyncapi.json")).text
    assert all(t in asyncapi for t in CONSUMES | EMITS)
    assert (await client.get("/readyz")).json()["ready"] is True
    assert (await client.get("/healthz")).status_code == 200

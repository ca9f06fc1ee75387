"""The service declaration (catalogue, docs endpoints) and what its events do downstream: with
unified-profile running next to it on the same NATS and Postgres, an imported language course
turns on the profile's has_completed_language_course flag, and a re-import changes nothing."""

from __future__ import annotations

import httpx
import pytest

from services.upskilling_connector.service import service
from services.upskilling_connector.tests.support import (
    COMPLETED,
    CREDENTIAL,
    PROGRESS,
    auth,
    events,
    import_sample,
)
from summit_common import dlq
from summit_common.catalog import http_routes
from summit_common.privacy import PRIVACY_EMITS
from summit_common.runtime import ServiceRuntime
from tests.helpers import eventually

ROUTES = {
    ("/v1/import/course-completions", "POST"), ("/v1/import/credentials", "POST"), ("/v1/import/progress", "POST"),
    ("/v1/providers", "GET"), ("/v1/imports/{import_id}", "GET"), ("/v1/completions", "GET"),
    ("/v1/completions/{completion_id}", "GET"), ("/v1/credentials", "GET"), ("/v1/credentials/{credential_id}", "GET"),
    ("/v1/progress", "GET"),
}


def test_catalogue_sees_every_route_and_event():
    found = {(r["path"].replace(":path", ""), m) for r in http_routes(service) for m in r["methods"]}
    assert found == ROUTES
    assert set(service.emits) == {COMPLETED, CREDENTIAL, PROGRESS, *PRIVACY_EMITS}
    # providers reach us through uploads; the service consumes only data-subject requests
    assert set(service.handlers) == {"privacy.export.requested.v1", "privacy.deletion.requested.v1"}


@pytest.mark.integration
async def test_docs_endpoints_and_readiness(client, runtime, bus):
    doc = (await client.get("/openapi.json")).json()
    paths = {(p.replace(":path", ""), m.upper()) for p, ops in doc["paths"].items() for m in ops}
    assert paths >= ROUTES
    assert set(doc["paths"]["/v1/import/course-completions"]["post"]["requestBody"]["content"]) == {
        "text/csv", "application/json", "multipart/form-data"}
    asyncapi = (await client.get("/asyncapi.json")).json()
    channel = "#/channels/{}".format
    assert {(op["action"], op["channel"]["$ref"]) for op in asyncapi["operations"].values()} == {
        *(("send", channel(t.replace(".", "_"))) for t in (COMPLETED, CREDENTIAL, PROGRESS, *PRIVACY_EMITS)),
        *(("receive", channel(t.replace(".", "_"))) for t in service.handlers)}
    assert (await client.get("/readyz")).json()["ready"] is True
    # Only the data-subject requests reach this service from the bus; its DLQ stays empty.
    assert len(runtime.consumers) == 2
    assert await dlq.list_entries(bus, runtime.naming, service.name) == []


@pytest.fixture
async def profiles(settings):
    """unified-profile, the consumer of upskilling.* events, on the same NATS and Postgres."""
    from services.unified_profile.service import service as profile_service

    rt = ServiceRuntime(profile_service, settings)
    await rt.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rt.app), base_url="http://p") as http:
        yield rt, http
    await rt.stop()


async def _profile(http, settings, system: str, external_id: str, check):
    async def ready():
        r = await http.get("/v1/profiles", params={"system": system, "external_id": external_id}, headers=auth(settings))
        items = r.json()["items"] if r.status_code == 200 else []
        return items[0] if items and check(items[0]) else None

    found = await eventually(ready, timeout=30)
    return (await http.get(f"/v1/profiles/{found['profile_id']}", headers=auth(settings))).json()


@pytest.mark.integration
async def test_a_language_course_completion_reaches_the_unified_profile(client, runtime, bus, settings, profiles):
    profile_runtime, http = profiles
    assert (await import_sample(client, settings, "completions", "itslearning", "itslearning_results.json")).status_code == 201
    assert (await import_sample(client, settings, "credentials", "itslearning", "itslearning_badges.json")).status_code == 201

    learner = await _profile(http, settings, "itslearning", "NO-ELEV-1042",
                             lambda p: p["flags"].get("has_completed_language_course") and p["flags"].get("has_credential"))
    assert learner["counters"]["courses_completed"] == 1 and learner["counters"]["credentials"] == 1
    digital = await _profile(http, settings, "itslearning", "NO-ELEV-1043", lambda p: p["flags"].get("has_completed_course"))
    assert not digital["flags"].get("has_completed_language_course")  # a digital course is not a language course
    started = await _profile(http, settings, "itslearning", "4714", lambda p: p["flags"].get("has_started_course"))
    assert not started["flags"].get("has_completed_course")

    # Re-importing emits nothing, so the profile cannot count the course twice.
    again = (await import_sample(client, settings, "completions", "itslearning", "itslearning_results.json")).json()
    assert again["accepted"] == 0 and again["emitted"] == {}
    assert len(await events(bus, runtime, COMPLETED, at_least=2)) == 2
    r = await http.get(f"/v1/profiles/{learner['profile_id']}", headers=auth(settings))
    assert r.json()["counters"]["courses_completed"] == 1 and r.json()["version"] == learner["version"]
    assert await dlq.list_entries(bus, profile_runtime.naming, "unified-profile") == []  # our events are valid for it

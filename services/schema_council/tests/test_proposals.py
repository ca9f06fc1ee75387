"""Proposals over real NATS and Postgres: the workflow with its events and audit trail, the
approval rules, bad input that stores nothing, idempotent retries, and the re-analysis when
the registered version moved."""

from __future__ import annotations

import pytest

from services.schema_council.service import service
from services.schema_council.tests.support import (
    EVENT,
    PROBLEM,
    SDL_BREAKING,
    SDL_V1,
    SDL_V2,
    admin,
    audit_log,
    auth,
    breaking_change,
    count,
    create,
    events,
    move,
    proposal,
    reviewer,
)
from summit_common.catalog import export_catalog
from tests.helpers import pages_of

pytestmark = pytest.mark.integration


async def test_a_compatible_change_to_an_event_contract_goes_from_draft_to_approved(client, runtime, bus, settings):
    created = await create(client, settings)
    pid = created["proposal_id"]
    assert created["status"] == "draft" and created["allowed_transitions"] == ["review"]
    assert created["current_source"] == "platform" and created["published"] is True
    assert created["compatibility"] == "BACKWARD_TRANSITIVE"  # the gate's mode for event contracts
    assert created["breaking"] is False
    assert [(c["kind"], c["path"], c["classification"]) for c in created["diff"]["changes"]] == [
        ("field_added", "$.branch", "additive")]
    assert created["diff"]["modes"]["FULL_TRANSITIVE"] is True
    spec = next(e for e in export_catalog()["events"] if e["type"] == EVENT)
    assert created["impact"]["producers"] == spec["producers"] and created["impact"]["consumers"] == spec["consumers"]
    assert created["current"] == spec["schema"]

    r = await move(client, settings, pid, "review", auth(settings))
    assert r.status_code == 200 and r.json()["status"] == "review"
    [submitted] = await events(bus, runtime, "governance.proposal.submitted.v1", at_least=1)
    assert submitted["tenantid"] == "acme" and submitted["subject"] == pid
    assert submitted["data"] == {"proposal_id": pid, "kind": "jsonschema", "contract": EVENT, "owner": "docs-hub",
                                 "target_date": "2030-01-31T00:00:00Z", "breaking": False}

    c = await client.post(f"/v1/proposals/{pid}/comments", json={"body": "looks good"}, headers=reviewer(settings))
    assert c.status_code == 201 and c.json()["author"] == "bob"
    r = await move(client, settings, pid, "approved", reviewer(settings))
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "approved" and done["decided_by"] == "bob" and done["allowed_transitions"] == []
    [decided] = await events(bus, runtime, "governance.proposal.decided.v1", at_least=1)
    assert decided["data"]["decision"] == "approved" and decided["data"]["decided_by"] == "bob"
    assert decided["data"]["breaking"] is False

    full = (await client.get(f"/v1/proposals/{pid}", headers=auth(settings))).json()
    assert [c["body"] for c in full["comments"]] == ["looks good"]
    trail = [(a["actor"], a["action"], a["from_status"], a["to_status"]) for a in full["audit"]]
    assert trail == [("alice", "created", None, "draft"), ("alice", "transition", "draft", "review"),
                     ("bob", "comment", "review", "review"), ("bob", "transition", "review", "approved")]
    assert all(a["at"] for a in full["audit"])
    assert full["audit"][2]["detail"] == {"comment_id": c.json()["comment_id"]}


async def test_approving_a_breaking_change_needs_accept_breaking_with_a_reason(client, runtime, bus, settings):
    created = await create(client, settings, proposed=breaking_change())
    pid = created["proposal_id"]
    assert created["breaking"] is True
    [violation] = created["diff"]["verdict"]["violations"]
    assert violation["id"] == "required_field_added:$.branch"
    assert created["impact"]["at_risk"] == created["impact"]["services"]
    assert (await move(client, settings, pid, "review", auth(settings))).status_code == 200

    r = await move(client, settings, pid, "approved", reviewer(settings))
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert "accept_breaking" in r.json()["detail"]
    r = await move(client, settings, pid, "approved", reviewer(settings), accept_breaking=True)
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    assert (await client.get(f"/v1/proposals/{pid}", headers=auth(settings))).json()["status"] == "review"

    r = await move(client, settings, pid, "approved", reviewer(settings), accept_breaking=True,
                   reason="docs-hub is the only consumer and ships with it")
    assert r.status_code == 200
    assert r.json()["accept_breaking_reason"] == "docs-hub is the only consumer and ships with it"
    assert r.json()["audit"][-1]["detail"]["accept_breaking"] is True
    [decided] = await events(bus, runtime, "governance.proposal.decided.v1", at_least=1)
    assert decided["data"]["breaking"] is True


async def test_illegal_transitions_are_409_and_roles_are_enforced(client, runtime, bus, settings):
    pid = (await create(client, settings))["proposal_id"]
    r = await move(client, settings, pid, "approved", reviewer(settings))
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert "a draft proposal cannot move to approved" in r.json()["detail"]
    r = await move(client, settings, pid, "draft", reviewer(settings))
    assert r.status_code == 422  # not a transition target at all
    r = await move(client, settings, pid, "review", auth(settings, sub="eve"))
    assert r.status_code == 403  # neither the author nor a reviewer
    assert (await move(client, settings, pid, "review", auth(settings))).status_code == 200

    r = await move(client, settings, pid, "approved", auth(settings, sub="dave"))
    assert r.status_code == 403 and "schema_reviewer" in r.json()["detail"]
    r = await move(client, settings, pid, "approved", auth(settings, roles=("schema_reviewer",)))
    assert r.status_code == 403 and "four eyes" in r.json()["detail"]
    denied = [row for row in await audit_log(runtime) if row[4] == "forbidden"]
    assert [(row[1], row[2]) for row in denied] == [("eve", "transition:review"), ("dave", "transition:approved"),
                                                    ("alice", "transition:approved")]

    assert (await move(client, settings, pid, "rejected", admin(settings))).status_code == 200
    # A retry of the same decision by the same person answers the current state and emits nothing new.
    again = await move(client, settings, pid, "rejected", admin(settings))
    assert again.status_code == 200 and again.json()["status"] == "rejected"
    r = await move(client, settings, pid, "approved", admin(settings))
    assert r.status_code == 409 and "decided" in r.json()["detail"]
    decided = await events(bus, runtime, "governance.proposal.decided.v1", at_least=1)
    assert [e["data"]["decision"] for e in decided] == ["rejected"]
    transitions = [a for a in (await client.get(f"/v1/proposals/{pid}", headers=auth(settings))).json()["audit"]
                   if a["action"] == "transition"]
    assert [(a["actor"], a["to_status"]) for a in transitions] == [("alice", "review"), ("carol", "rejected")]


@pytest.mark.parametrize(("overrides", "detail"), [
    ({"proposed": {"type": "object", "properties": {"a": {"type": "strnig"}}}}, "not a valid JSON Schema"),
    ({"kind": "openapi"}, "is an event contract"),
    ({"kind": "protobuf", "contract": "orders", "proposed": 'syntax = "proto3";\nmessage A {\n  string a = ;\n}'},
     "line 3"),
    ({"kind": "graphql", "contract": "partner-api", "proposed": {"not": "text"}}, "source text"),
    ({"kind": "avro"}, "kind"),
    ({"owner": ""}, "owner"),
    ({"rationale": None}, "rationale"),
    ({"compatibility": "NONE"}, "not allowed for a published contract"),
    ({"compatibility": "SIDEWAYS"}, "unknown compatibility mode"),
    ({"rename_hints": {"branch": "x"}}, "starting with '$'"),
    ({"history": [{}]}, "history needs current"),
    ({"current": None}, "leave it out"),
    ({"contract": "has spaces in it"}, "contract"),
    ({"unexpected": 1}, "unexpected"),
    ({"proposal_id": "no spaces allowed"}, "proposal_id"),
])
async def test_bad_input_is_a_clear_422_and_stores_nothing(client, runtime, settings, overrides, detail):
    body = proposal(**overrides)
    if overrides.get("rationale", "x") is None:
        del body["rationale"]
    r = await client.post("/v1/proposals", json=body, headers=auth(settings))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert detail in r.text
    assert await count(runtime, "proposals") == 0
    assert await count(runtime, "proposal_audit") == 0
    assert await count(runtime, "outbox") == 0


async def test_creating_with_the_same_id_or_idempotency_key_is_idempotent(client, runtime, settings):
    first = await client.post("/v1/proposals", json=proposal(proposal_id="prop-1"), headers=auth(settings))
    assert first.status_code == 201 and first.json()["proposal_id"] == "prop-1"
    assert first.headers["location"] == "/v1/proposals/prop-1"
    again = await client.post("/v1/proposals", json=proposal(proposal_id="prop-1"), headers=auth(settings))
    assert again.status_code == 200 and again.json()["proposal_id"] == "prop-1"
    other = await client.post("/v1/proposals", json=proposal(proposal_id="prop-1", rationale="something else"),
                              headers=auth(settings))
    assert other.status_code == 409 and other.headers["content-type"] == PROBLEM

    keyed = {**auth(settings), "Idempotency-Key": "retry-42"}
    a = await client.post("/v1/proposals", json=proposal(), headers=keyed)
    b = await client.post("/v1/proposals", json=proposal(), headers=keyed)
    assert a.status_code == 201 and b.status_code == 200 and a.json()["proposal_id"] == b.json()["proposal_id"]
    assert await count(runtime, "proposals") == 2
    assert await count(runtime, "proposal_audit") == 2  # one 'created' each

    # Another tenant may use the same id: ids are per tenant.
    theirs = await client.post("/v1/proposals", json=proposal(proposal_id="prop-1"), headers=auth(settings, tenant="beta"))
    assert theirs.status_code == 201

    # Comments: a retried comment with the same key is stored once.
    ck = {**auth(settings), "Idempotency-Key": "c-1"}
    c1 = await client.post("/v1/proposals/prop-1/comments", json={"body": "first"}, headers=ck)
    c2 = await client.post("/v1/proposals/prop-1/comments", json={"body": "first"}, headers=ck)
    assert c1.status_code == 201 and c2.status_code == 200 and c1.json()["comment_id"] == c2.json()["comment_id"]
    c3 = await client.post("/v1/proposals/prop-1/comments", json={"body": "different"}, headers=ck)
    assert c3.status_code == 409
    bad = await client.post("/v1/proposals/prop-1/comments", json={"body": ""}, headers=auth(settings))
    assert bad.status_code == 422
    assert await count(runtime, "proposal_comments") == 1


async def test_tenant_contracts_get_revisions_and_a_stale_draft_is_reanalysed(client, runtime, bus, settings):
    first = await create(client, settings, kind="graphql", contract="partner-api", proposed=SDL_V1)
    assert first["current_source"] == "none" and first["published"] is False and first["current"] is None
    assert {c["kind"] for c in first["diff"]["changes"]} == set()  # nothing to compare with
    pid = first["proposal_id"]
    await move(client, settings, pid, "review", auth(settings))
    assert (await move(client, settings, pid, "approved", reviewer(settings))).status_code == 200

    # Two drafts against revision 1: the compatible one is approved first ...
    grow = await create(client, settings, kind="graphql", contract="partner-api", proposed=SDL_V2)
    shrink = await create(client, settings, kind="graphql", contract="partner-api", proposed=SDL_BREAKING)
    assert grow["current_source"] == "tenant" and grow["registered_versions"] == ["rev-1"]
    assert grow["breaking"] is False
    assert shrink["breaking"] is True and shrink["diff"]["changes"][0]["id"] == "field_removed:Partner.name"
    for p in (grow, shrink):
        await move(client, settings, p["proposal_id"], "review", auth(settings))
    assert (await move(client, settings, grow["proposal_id"], "approved", reviewer(settings))).status_code == 200

    # ... so deciding the other one re-runs its diff against revision 2.
    r = await move(client, settings, shrink["proposal_id"], "rejected", reviewer(settings))
    assert r.status_code == 200
    refreshed = r.json()
    assert refreshed["registered_versions"] == ["rev-1", "rev-2"]
    assert {c["id"] for c in refreshed["diff"]["changes"]} == {"field_removed:Partner.name",
                                                               "field_removed:Partner.region"}
    assert refreshed["audit"][-1]["detail"]["analysis_refreshed"]["versions"] == ["rev-1", "rev-2"]

    entry = (await client.get("/v1/catalog/partner-api", headers=auth(settings))).json()
    assert entry["source"] == "tenant" and [v["version"] for v in entry["versions"]] == ["1", "2"]
    assert entry["owner"] == "docs-hub"
    # A tenant contract keeps its kind.
    r = await client.post("/v1/proposals", json=proposal(kind="protobuf", contract="partner-api",
                                                         proposed='syntax = "proto3";'), headers=auth(settings))
    assert r.status_code == 422 and "is a graphql contract" in r.json()["detail"]


async def test_the_list_filters_and_paginates(client, settings):
    ids = [(await create(client, settings, proposal_id=f"p-{i}"))["proposal_id"] for i in range(5)]
    await create(client, settings, proposal_id="gql", kind="graphql", contract="partner-api", proposed=SDL_V1)
    await move(client, settings, "p-1", "review", auth(settings))
    pages = await pages_of(client, "/v1/proposals", auth(settings), limit=2, kind="jsonschema")
    assert all(len(page) <= 2 for page in pages)
    seen = [p["proposal_id"] for page in pages for p in page]
    assert seen == list(reversed(ids))
    review = (await client.get("/v1/proposals?status=review", headers=auth(settings))).json()["items"]
    assert [p["proposal_id"] for p in review] == ["p-1"]
    assert "proposed_document" not in review[0]
    gql = (await client.get("/v1/proposals?contract=partner-api", headers=auth(settings))).json()["items"]
    assert [p["proposal_id"] for p in gql] == ["gql"]
    assert (await client.get("/v1/proposals?status=merged", headers=auth(settings))).status_code == 422
    assert (await client.get("/v1/proposals?cursor=%%%", headers=auth(settings))).status_code == 400
    assert (await client.get("/v1/proposals?limit=0", headers=auth(settings))).status_code == 400


async def test_the_stateless_diff_endpoint(client, runtime, settings):
    old = {"openapi": "3.1.0", "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}},
                                         "/b": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    new = {"openapi": "3.1.0", "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    r = await client.post("/v1/diff", json={"kind": "openapi", "old": old, "new": new, "compatibility": "FORWARD"},
                          headers=auth(settings))
    assert r.status_code == 200
    out = r.json()
    assert out["breaking"] is False and out["modes"]["BACKWARD"] is False
    assert out["changes"][0]["id"] == "operation_removed:GET /b"
    r = await client.post("/v1/diff", json={"kind": "openapi", "old": {"swagger": "2.0"}, "new": new},
                          headers=auth(settings))
    assert r.status_code == 422 and "Swagger 2.0" in r.json()["detail"]
    assert await count(runtime, "proposals") == 0


def test_the_service_consumes_no_events():
    """schema-council only reads the catalogue and takes HTTP commands: there is no consumer,
    so redelivery and poison-event (DLQ) behaviour does not apply; its HTTP commands are
    idempotent instead (tested above)."""
    assert dict(service.handlers) == {}
    assert set(service.emits) == {"governance.proposal.submitted.v1", "governance.proposal.decided.v1",
                                  "governance.contract.deprecated.v1"}

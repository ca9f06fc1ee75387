"""Query routes over real Postgres: filters, cursor pages, evidence, tenant isolation on every
route (404 + audit, 401 without a valid token, 403 without a reading role), and the preview."""

from __future__ import annotations

import pytest

from services.q2q_ai import domain
from services.q2q_ai.service import provider
from services.q2q_ai.tests.support import (
    CHECKIN,
    FEEDBACK,
    OTHER_TENANT,
    SCREENED,
    auth,
    checkin,
    count,
    feedback,
    outcomes,
    publish,
    ref,
    screened,
    wait_status,
)
from summit_common.auth import mint_token
from tests.helpers import pages_of

pytestmark = pytest.mark.integration

B1, B2 = ref("buddy", "B-1"), ref("buddy", "B-2")
TEXTS = [  # (type, id, participant, minute, text) -> dimensions scored
    (FEEDBACK, "F-1", B1, 0, "I feel lonely."),                                    # belonging
    (FEEDBACK, "F-2", B1, 60, "I made friends. I feel confident."),                # belonging, confidence
    (CHECKIN, "C-1", B2, 30, "Had a job interview, seems nervous."),               # job_readiness, confidence
    (FEEDBACK, "F-3", B2, 90, "I understand everything now. I made friends."),     # language, belonging
]


@pytest.fixture
async def scored(runtime, bus, client, settings):
    """acme holds 7 scores over 4 texts of two participants; returns them newest first."""
    for content_type, content_id, who, minute, text in TEXTS:
        data = (feedback if content_type == FEEDBACK else checkin)(content_id, text, participant=who, minute=minute)
        await publish(bus, runtime, content_type, data)
        await publish(bus, runtime, SCREENED, screened(content_type, content_id, "clear"))
    for content_type, content_id, *_ in TEXTS:
        await wait_status(runtime, content_type, content_id, "scored")
    found = await outcomes(client, settings)
    assert len(found) == 7
    return found


async def _audit(runtime) -> list:
    async with runtime.pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch("SELECT tenant_id, actor, resource, outcome FROM audit_log ORDER BY id")]


async def test_the_list_is_newest_text_first(scored):
    keys = [(s["observed_at"], s["score_id"]) for s in scored]
    assert keys == sorted(keys, reverse=True)
    assert scored[0]["source_id"] == "F-3" and scored[-1]["source_id"] == "F-1"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"participant": "buddy:B-1"}, {("F-1", "belonging"), ("F-2", "belonging"), ("F-2", "confidence")}),
        ({"dimension": "confidence"}, {("F-2", "confidence"), ("C-1", "confidence")}),
        ({"participant": "buddy:B-2", "dimension": "belonging"}, {("F-3", "belonging")}),
        ({"from": "2025-03-01T09:30:00Z", "to": "2025-03-01T10:30:00Z"},
         {("C-1", "job_readiness"), ("C-1", "confidence"), ("F-2", "belonging"), ("F-2", "confidence")}),
        ({"from": "2025-03-01T10:30:00"}, {("F-3", "belonging"), ("F-3", "language_level_proxy")}),  # naive = UTC
        ({"participant": "buddy:nobody"}, set()),
    ],
)
async def test_filters(client, settings, scored, params, expected):
    r = await client.get("/v1/outcomes", params=params, headers=auth(settings))
    assert r.status_code == 200, r.text
    assert {(s["source_id"], s["dimension"]) for s in r.json()["items"]} == expected


async def test_pagination_walks_every_score_once(client, settings, scored):
    pages = await pages_of(client, "/v1/outcomes", auth(settings), limit=2)
    assert all(len(page) <= 2 for page in pages)
    seen = [item for page in pages for item in page]
    assert len(pages) == 4
    assert [s["score_id"] for s in seen] == [s["score_id"] for s in scored]


async def test_one_outcome_and_its_evidence(client, settings, scored):
    score = next(s for s in scored if s["source_id"] == "F-2" and s["dimension"] == "belonging")
    got = await client.get(f"/v1/outcomes/{score['score_id']}", headers=auth(settings))
    assert got.status_code == 200 and got.json() == score
    assert score["model_version"] == provider.model_version
    [evidence_id] = score["evidence_ids"]
    evidence = (await client.get(f"/v1/evidence/{evidence_id}", headers=auth(settings))).json()
    assert evidence["snippet"] == "I made friends."
    assert evidence["snippet_sha256"] == domain.sha256_hex("I made friends.")
    assert (evidence["source_type"], evidence["source_id"], evidence["sentence_index"]) == (FEEDBACK, "F-2", 0)
    assert evidence["participant"] == B1
    assert evidence["cited_by"] == [{"score_id": score["score_id"], "dimension": "belonging"}]


async def test_every_cited_evidence_id_exists(client, settings, scored):
    for score in scored:
        for evidence_id in score["evidence_ids"]:
            assert (await client.get(f"/v1/evidence/{evidence_id}", headers=auth(settings))).status_code == 200


async def test_another_tenants_outcome_and_evidence_are_404_and_audited(client, runtime, settings, scored):
    score = scored[0]
    for path in (f"/v1/outcomes/{score['score_id']}", f"/v1/evidence/{score['evidence_ids'][0]}"):
        r = await client.get(path, headers=auth(settings, tenant=OTHER_TENANT, sub="snoop"))
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
    assert await _audit(runtime) == [
        {"tenant_id": OTHER_TENANT, "actor": "snoop", "resource": f"outcome {score['score_id']}", "outcome": "denied_cross_tenant"},
        {"tenant_id": OTHER_TENANT, "actor": "snoop", "resource": f"evidence {score['evidence_ids'][0]}",
         "outcome": "denied_cross_tenant"},
    ]
    assert await outcomes(client, settings, tenant=OTHER_TENANT) == []


async def test_platform_admin_reads_another_tenants_outcome_and_evidence(client, settings, scored):
    admin = auth(settings, tenant=OTHER_TENANT, roles=("platform-admin",))
    assert (await client.get(f"/v1/outcomes/{scored[0]['score_id']}", headers=admin)).json() == scored[0]
    assert (await client.get(f"/v1/evidence/{scored[0]['evidence_ids'][0]}", headers=admin)).status_code == 200


@pytest.mark.parametrize("path", ["/v1/outcomes/not-a-uuid", "/v1/evidence/not-a-uuid",
                                  "/v1/outcomes/0190a1b2-0000-7000-8000-000000000000",
                                  "/v1/evidence/0190a1b2-0000-7000-8000-000000000000"])
async def test_missing_ids_are_404_without_an_audit_entry(client, runtime, settings, path):
    r = await client.get(path, headers=auth(settings))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert await _audit(runtime) == []


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"participant": "B-1"}, 422, "system:id"),
        ({"participant": "Buddy:B-1"}, 422, "system:id"),
        ({"participant": "buddy:"}, 422, "system:id"),
        ({"dimension": "happiness"}, 422, "known dimensions"),
        ({"from": "2025-03-02T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, 422, "before"),
        ({"from": "yesterday"}, 422, ""),
        ({"cursor": "not-a-cursor"}, 400, "cursor"),
        ({"cursor": "WzFd"}, 400, "cursor"),
        ({"cursor": "WyIyMDI1LTAzLTAxIiwgIngiXQ"}, 400, "cursor"),  # ["2025-03-01", "x"]: not a score id
        ({"limit": 0}, 400, "limit"),
        ({"limit": 201}, 400, "limit"),
    ],
)
async def test_bad_query_parameters_are_problems(client, settings, params, status, says):
    r = await client.get("/v1/outcomes", params=params, headers=auth(settings))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert says in r.text


ROUTES = [("GET", "/v1/outcomes"), ("GET", "/v1/outcomes/x"), ("GET", "/v1/evidence/x"), ("POST", "/v1/analyse")]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("token", ["none", "wrong-key", "expired", "not-bearer"])
async def test_every_route_needs_a_valid_token(client, settings, method, path, token):
    headers = {
        "none": {},
        "wrong-key": {"Authorization": "Bearer " + mint_token("another-key-entirely-0123456789-abcdef", sub="x", tenant="acme",
                                                              roles=["company_user"])},
        "expired": {"Authorization": "Bearer " + mint_token(settings.jwt_secret, sub="x", tenant="acme",
                                                            roles=["company_user"], ttl_seconds=-60)},
        "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    }[token]
    r = await client.request(method, path, headers=headers, json={"text": "I feel lonely"} if method == "POST" else None)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_participant_token_cannot_read_scores(client, settings, method, path):
    r = await client.request(method, path, headers=auth(settings, roles=("participant",)),
                             json={"text": "I feel lonely"} if method == "POST" else None)
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"


async def test_analyse_previews_masking_and_reasoning_and_stores_nothing(client, runtime, settings):
    body = {"text": "Hi, I'm Lena (lena@example.org). I was not very confident. I feel welcome.", "known_names": []}
    first = await client.post("/v1/analyse", json=body, headers=auth(settings))
    assert first.status_code == 200, first.text
    got = first.json()
    assert got["masked_text"] == "Hi, I'm [NAME] ([EMAIL]). I was not very confident. I feel welcome."
    assert got["model_version"] == provider.model_version
    by = {s["dimension"]: s for s in got["scores"]}
    assert set(by) == {"confidence", "belonging"}
    assert by["confidence"]["explanation"][0]["negated"] is True and by["confidence"]["value"] < 0.5
    assert [got["snippets"][i]["text"] for i in by["belonging"]["evidence"]] == ["I feel welcome."]
    again = await client.post("/v1/analyse", json=body, headers=auth(settings))
    assert again.json() == got  # deterministic
    assert await count(runtime, "text_items") == 0 and await count(runtime, "outbox") == 0


@pytest.mark.parametrize(
    ("body", "says"),
    [({"text": ""}, "text"), ({"text": "   "}, "whitespace"), ({"text": "x" * 10_001}, "text"),
     ({"text": "ok", "extra": 1}, "extra"), ({}, "text"), ({"text": "ok", "known_names": [""]}, "known_names")],
)
async def test_analyse_rejects_bad_input(client, runtime, settings, body, says):
    r = await client.post("/v1/analyse", json=body, headers=auth(settings))
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert says in r.text

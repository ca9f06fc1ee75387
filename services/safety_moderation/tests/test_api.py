"""HTTP routes over real NATS and Postgres: the review queue and its decisions, roles, tenant
isolation, pagination, the release gate, and policy reload without a restart."""

from __future__ import annotations

import jwt
import pytest

from services.safety_moderation import domain, policy
from services.safety_moderation.tests.support import (
    FEEDBACK,
    OTHER_TENANT,
    PROBLEM,
    REVIEW_COMPLETED,
    TEXT_SCREENED,
    auth,
    count,
    emitted,
    held_flag,
    publish_text,
    screened,
)
from tests.fixtures import DEV_SECRET
from tests.helpers import pages_of

pytestmark = pytest.mark.integration
SELF_HARM_2 = "I have been thinking about suicide a lot"


async def decide(client, settings, flag_id: str, body: dict, **kw):
    return await client.post(f"/v1/reviews/{flag_id}/decision", json=body, headers=auth(settings, **kw))


# --- decisions ---------------------------------------------------------------------------------


async def test_a_reviewers_decision_completes_the_review_and_opens_the_gate(runtime, bus, client, settings):
    flag = await held_flag(bus, runtime, client, settings, "FB-1")
    r = await decide(client, settings, flag["flag_id"], {"decision": "approved", "reason": "talked to her, she is safe"},
                     sub="rev-7")
    assert r.status_code == 200, r.text
    decided = r.json()
    assert (decided["status"], decided["decision"], decided["reviewer"]) == ("decided", "approved", "rev-7")
    assert decided["decided_at"] is not None and decided["reason"] == "talked to her, she is safe"

    [event] = await emitted(bus, runtime, REVIEW_COMPLETED, at_least=1, flag_id=flag["flag_id"])
    assert event["data"] | {"reviewed_at": None} == {
        "flag_id": flag["flag_id"], "content_id": "FB-1", "decision": "approved", "reviewer": "rev-7",
        "reviewed_at": None, "reason": "talked to her, she is safe",
    }
    assert (event["subject"], event["tenantid"]) == (flag["flag_id"], "acme")

    pending = (await client.get("/v1/reviews", headers=auth(settings))).json()["items"]
    decided_list = (await client.get("/v1/reviews", params={"status": "decided"}, headers=auth(settings))).json()["items"]
    assert pending == [] and [i["flag_id"] for i in decided_list] == [flag["flag_id"]]
    gate = (await client.get(f"/v1/screenings/{FEEDBACK}/FB-1", headers=auth(settings))).json()
    assert (gate["review_status"], gate["decision"], gate["releasable"]) == ("decided", "approved", True)


@pytest.mark.parametrize("decision", ["rejected", "escalated"])
async def test_rejected_or_escalated_items_stay_held(runtime, bus, client, settings, decision):
    flag = await held_flag(bus, runtime, client, settings, "FB-2")
    r = await decide(client, settings, flag["flag_id"], {"decision": decision, "reason": "needs the safeguarding lead"})
    assert r.status_code == 200, r.text
    [event] = await emitted(bus, runtime, REVIEW_COMPLETED, at_least=1)
    assert event["data"]["decision"] == decision
    gate = (await client.get(f"/v1/screenings/{FEEDBACK}/FB-2", headers=auth(settings))).json()
    assert gate["releasable"] is False


async def test_deciding_twice_is_a_409_and_emits_one_event(runtime, bus, client, settings):
    flag = await held_flag(bus, runtime, client, settings, "FB-3")
    assert (await decide(client, settings, flag["flag_id"], {"decision": "approved"})).status_code == 200
    again = await decide(client, settings, flag["flag_id"], {"decision": "rejected", "reason": "changed my mind"}, sub="rev-2")
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    assert again.json()["decision"] == "approved" and "already decided" in again.json()["detail"]
    stored = (await client.get(f"/v1/reviews/{flag['flag_id']}", headers=auth(settings))).json()
    assert (stored["decision"], stored["reviewer"]) == ("approved", "rev-1")
    assert len(await emitted(bus, runtime, REVIEW_COMPLETED, at_least=1)) == 1


@pytest.mark.parametrize(("body", "where"), [
    ({"decision": "maybe"}, "decision"),
    ({"decision": "rejected"}, "reason is required when the decision is rejected"),
    ({"decision": "escalated", "reason": "   "}, "reason is required when the decision is escalated"),
    ({"decision": "approved", "reason": "x" * 2001}, "reason"),
    ({"decision": "approved", "note": "hi"}, "note"),
    ({}, "decision"),
])
async def test_a_bad_decision_is_a_422_and_changes_nothing(runtime, bus, client, settings, body, where):
    flag = await held_flag(bus, runtime, client, settings, "FB-4")
    r = await decide(client, settings, flag["flag_id"], body)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert where in r.json()["detail"]
    assert (await client.get(f"/v1/reviews/{flag['flag_id']}", headers=auth(settings))).json()["status"] == "pending"
    assert await emitted(bus, runtime, REVIEW_COMPLETED) == []


async def test_a_reviewers_reason_is_masked_too(runtime, bus, client, settings):
    flag = await held_flag(bus, runtime, client, settings, "FB-5")
    r = await decide(client, settings, flag["flag_id"], {"decision": "escalated", "reason": "call her mum on 91234567"})
    assert r.json()["reason"] == "call her mum on [PHONE]"
    [event] = await emitted(bus, runtime, REVIEW_COMPLETED, at_least=1)
    assert event["data"]["reason"] == "call her mum on [PHONE]"


async def test_deciding_an_unknown_flag_is_a_404(runtime, client, settings):
    for flag_id in ("0190a0a0-0000-7000-8000-000000000000", "not-a-uuid"):
        r = await decide(client, settings, flag_id, {"decision": "approved"})
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


# --- roles and tokens --------------------------------------------------------------------------


@pytest.mark.parametrize(("roles", "allowed"), [
    (("reviewer",), True), (("admin",), True), (("platform-admin",), True),
    (("company_user",), False), (("participant",), False), ((), False),
])
async def test_the_review_routes_need_the_reviewer_or_admin_role(runtime, bus, client, settings, roles, allowed):
    flag = await held_flag(bus, runtime, client, settings, "FB-6")
    headers = auth(settings, roles=roles)
    listing = await client.get("/v1/reviews", headers=headers)
    one = await client.get(f"/v1/reviews/{flag['flag_id']}", headers=headers)
    decision = await client.post(f"/v1/reviews/{flag['flag_id']}/decision", json={"decision": "approved"}, headers=headers)
    assert [listing.status_code, one.status_code, decision.status_code] == ([200] * 3 if allowed else [403] * 3)
    if not allowed:
        assert "reviewer, admin" in decision.json()["detail"]
        assert (await client.get(f"/v1/reviews/{flag['flag_id']}", headers=auth(settings))).json()["status"] == "pending"
        assert await emitted(bus, runtime, REVIEW_COMPLETED) == []


async def test_every_route_needs_a_valid_token(runtime, client, settings):
    expired = jwt.encode({"sub": "u", "tenant": "acme", "roles": ["reviewer"], "exp": 1, "iss": "summit"}, DEV_SECRET,
                         algorithm="HS256")
    wrong_key = jwt.encode({"sub": "u", "tenant": "acme", "roles": ["admin"], "exp": 4102444800, "iss": "summit"},
                           "another-secret-another-secret-another-secret", algorithm="HS256")
    routes = [("GET", "/v1/reviews", None), ("GET", "/v1/reviews/0190a0a0-0000-7000-8000-000000000000", None),
              ("POST", "/v1/reviews/0190a0a0-0000-7000-8000-000000000000/decision", {"decision": "approved"}),
              ("GET", f"/v1/screenings/{FEEDBACK}/FB-1", None), ("GET", "/v1/policy", None),
              ("POST", "/v1/policy/reload", None), ("POST", "/v1/screen", {"text": "hi"})]
    for method, path, body in routes:
        for headers in ({}, {"Authorization": f"Bearer {expired}"}, {"Authorization": f"Bearer {wrong_key}"},
                        {"Authorization": "Basic dTpw"}):
            r = await client.request(method, path, json=body, headers=headers)
            assert r.status_code == 401 and r.headers["content-type"] == PROBLEM, (method, path, headers, r.text)


# --- tenant isolation --------------------------------------------------------------------------


async def test_another_tenants_flag_is_a_404_for_reads_and_decisions_and_is_audited(runtime, bus, client, settings):
    flag = await held_flag(bus, runtime, client, settings, "FB-7")
    theirs = auth(settings, tenant=OTHER_TENANT, roles=("reviewer",), sub="intruder")
    r = await client.get(f"/v1/reviews/{flag['flag_id']}", headers=theirs)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    d = await client.post(f"/v1/reviews/{flag['flag_id']}/decision", json={"decision": "approved"}, headers=theirs)
    assert d.status_code == 404
    assert (await client.get("/v1/reviews", headers=theirs)).json()["items"] == []
    assert (await client.get("/v1/reviews", params={"status": "decided"}, headers=theirs)).json()["items"] == []
    g = await client.get(f"/v1/screenings/{FEEDBACK}/FB-7", headers=theirs)
    assert g.status_code == 404

    assert (await client.get(f"/v1/reviews/{flag['flag_id']}", headers=auth(settings))).json()["status"] == "pending"
    assert await emitted(bus, runtime, REVIEW_COMPLETED) == []
    async with runtime.pool.acquire() as conn:
        audited = await conn.fetch("SELECT action, actor, tenant_id, outcome FROM audit_log ORDER BY id")
    assert [(a["action"], a["actor"], a["tenant_id"], a["outcome"]) for a in audited] == [
        ("read", "intruder", OTHER_TENANT, "denied_cross_tenant"),
        ("decide", "intruder", OTHER_TENANT, "denied_cross_tenant"),
        ("read", "intruder", OTHER_TENANT, "denied_cross_tenant"),
    ]


async def test_platform_admin_can_decide_another_tenants_flag_for_that_tenant(runtime, bus, client, settings):
    flag = await held_flag(bus, runtime, client, settings, "FB-8")
    ops = auth(settings, tenant="summit-ops", roles=("platform-admin",), sub="ops-1")
    assert (await client.get(f"/v1/reviews/{flag['flag_id']}", headers=ops)).status_code == 200
    r = await client.post(f"/v1/reviews/{flag['flag_id']}/decision", json={"decision": "approved"}, headers=ops)
    assert r.status_code == 200, r.text
    [event] = await emitted(bus, runtime, REVIEW_COMPLETED, at_least=1)
    assert event["tenantid"] == "acme" and event["data"]["reviewer"] == "ops-1"


async def test_an_unknown_screening_or_content_type(runtime, client, settings):
    r = await client.get(f"/v1/screenings/{FEEDBACK}/nope", headers=auth(settings))
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    r = await client.get("/v1/screenings/buddy.match.created.v1/M-1", headers=auth(settings))
    assert r.status_code == 422 and "buddy.feedback.submitted.v1" in r.json()["detail"]


# --- the queue: order, filters, pages ----------------------------------------------------------


async def test_the_queue_is_most_severe_first_then_oldest_and_pages_with_a_cursor(runtime, bus, client, settings):
    texts = {
        "FB-a": "you idiot",  # low (flag)
        "FB-b": "mail me at a.b@example.com",  # medium
        "FB-c": SELF_HARM_2,  # critical
        "FB-d": "what a moron",  # low (flag)
        "FB-e": "I know where you live",  # high
    }
    for content_id, text in texts.items():
        await publish_text(bus, runtime, content_id, text)
        await screened(runtime, content_id)  # one at a time: flag ids (UUIDv7) follow this order
    pages = await pages_of(client, "/v1/reviews", auth(settings), limit=2)
    seen = [(i["content_id"], i["severity"]) for page in pages for i in page]
    assert all("masked_text" not in (page or [{}])[0] for page in pages)
    assert seen == [("FB-c", "critical"), ("FB-e", "high"), ("FB-b", "medium"), ("FB-a", "low"), ("FB-d", "low")]

    lows = (await client.get("/v1/reviews", params={"severity": "low"}, headers=auth(settings))).json()["items"]
    assert [i["content_id"] for i in lows] == ["FB-a", "FB-d"]
    abuse = (await client.get("/v1/reviews", params={"category": "harassment"}, headers=auth(settings))).json()["items"]
    assert [i["content_id"] for i in abuse] == ["FB-e"]
    one = (await client.get("/v1/reviews", params={"content_id": "FB-b"}, headers=auth(settings))).json()["items"]
    assert [i["category"] for i in one] == ["pii_leak"]

    # Decided: most recent decision first, and a cursor of one status is refused for the other.
    for content_id in ("FB-a", "FB-c", "FB-e"):
        [item] = (await client.get("/v1/reviews", params={"content_id": content_id}, headers=auth(settings))).json()["items"]
        assert (await decide(client, settings, item["flag_id"], {"decision": "approved"})).status_code == 200
    first = (await client.get("/v1/reviews", params={"status": "decided", "limit": 2}, headers=auth(settings))).json()
    assert [i["content_id"] for i in first["items"]] == ["FB-e", "FB-c"]
    second = (await client.get("/v1/reviews", params={"status": "decided", "cursor": first["next_cursor"]},
                               headers=auth(settings))).json()
    assert [i["content_id"] for i in second["items"]] == ["FB-a"] and second["next_cursor"] is None
    wrong = await client.get("/v1/reviews", params={"status": "pending", "cursor": first["next_cursor"]}, headers=auth(settings))
    assert wrong.status_code == 400 and wrong.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(("params", "status"), [
    ({"limit": 0}, 400), ({"limit": 201}, 400), ({"cursor": "garbage!"}, 400), ({"cursor": "WyJ4Il0"}, 400),
    ({"status": "open"}, 422), ({"severity": "extreme"}, 422),
])
async def test_bad_list_parameters_are_a_clear_4xx(runtime, client, settings, params, status):
    r = await client.get("/v1/reviews", params=params, headers=auth(settings))
    assert r.status_code == status and r.headers["content-type"] == PROBLEM and r.json()["detail"]


# --- policy: reload without a restart ------------------------------------------------------------

BANANA_POLICY = """
rules:
  - {id: no-bananas, category: abuse, severity: high, action: hold, keywords: [banana]}
"""


async def test_reloading_the_policy_changes_verdicts_without_a_restart(runtime, bus, client, settings, policy_file):
    await publish_text(bus, runtime, "FB-20", "I brought a banana")
    [before] = await screened(runtime, "FB-20")
    assert before["verdict"] == "clear"
    old_version = before["policy_version"]

    policy_file.write_text(BANANA_POLICY)
    r = await client.post("/v1/policy/reload", headers=auth(settings, roles=("admin",), sub="admin-1"))
    assert r.status_code == 200, r.text
    new_version = domain.policy_version(BANANA_POLICY.encode())
    assert r.json() == {"policy_version": new_version, "previous_version": old_version, "changed": True, "rules": 1}
    again = await client.post("/v1/policy/reload", headers=auth(settings, roles=("admin",)))
    assert again.json()["changed"] is False

    await publish_text(bus, runtime, "FB-21", "I brought a banana")
    [after] = await screened(runtime, "FB-21")
    assert (after["verdict"], after["policy_version"]) == ("held", new_version)
    outs = await emitted(bus, runtime, TEXT_SCREENED, at_least=2)
    assert {e["data"]["content_id"]: e["data"]["policy_version"] for e in outs} == {"FB-20": old_version, "FB-21": new_version}
    status = (await client.get("/v1/policy", headers=auth(settings))).json()
    assert status["policy_version"] == new_version and [r["id"] for r in status["rules"]] == ["no-bananas"]
    async with runtime.pool.acquire() as conn:
        audited = await conn.fetch("SELECT actor, outcome FROM audit_log WHERE action = 'policy.reload' ORDER BY id")
    assert [(a["actor"], a["outcome"]) for a in audited] == [("admin-1", "reloaded"), ("rev-1", "unchanged")]


async def test_an_invalid_policy_is_rejected_and_the_old_one_stays_active(runtime, bus, client, settings, policy_file):
    active = policy.holder().policy.version
    policy_file.write_text("rules:\n  - {id: x, category: abuse, severity: extreme, action: hold, keywords: [banana]}\n")
    r = await client.post("/v1/policy/reload", headers=auth(settings, roles=("admin",)))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["active_policy_version"] == active and active in body["detail"]
    assert any("rules[0] (id 'x').severity" in e for e in body["errors"])

    status = (await client.get("/v1/policy", headers=auth(settings))).json()
    assert status["policy_version"] == active and "severity" in status["last_error"][0]
    await publish_text(bus, runtime, "FB-22", SELF_HARM_2)
    [row] = await screened(runtime, "FB-22")
    assert (row["verdict"], row["policy_version"]) == ("held", active)  # the old rules still apply


async def test_only_admins_reload_the_policy(runtime, client, settings, policy_file):
    policy_file.write_text(BANANA_POLICY)
    for roles in (("reviewer",), ("company_user",)):
        r = await client.post("/v1/policy/reload", headers=auth(settings, roles=roles))
        assert r.status_code == 403
    assert policy.holder().policy.version != domain.policy_version(BANANA_POLICY.encode())


async def test_a_changed_file_is_picked_up_by_its_hash_without_a_reload_call(runtime, bus, policy_file, safety_settings):
    policy.configure(safety_settings.model_copy(update={"policy_check_seconds": 0}))
    policy_file.write_text(BANANA_POLICY)
    await publish_text(bus, runtime, "FB-23", "one banana please")
    [row] = await screened(runtime, "FB-23")
    assert (row["verdict"], row["policy_version"]) == ("held", domain.policy_version(BANANA_POLICY.encode()))


# --- dry run -----------------------------------------------------------------------------------


async def test_the_dry_run_screens_with_the_active_policy_and_stores_nothing(runtime, client, settings):
    r = await client.post("/v1/screen", json={"text": "I want to kill myself, call 91234567"}, headers=auth(settings))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["outcome"], body["verdict"], body["severity"], body["rule_id"]) == ("held", "held", "critical", "self-harm-phrases")
    assert body["masked_text"] == "I want to kill myself, call [PHONE]"
    assert {m["rule_id"] for m in body["matches"]} == {"self-harm-phrases", "pii-phone"}
    clean = (await client.post("/v1/screen", json={"text": "lovely day"}, headers=auth(settings))).json()
    assert (clean["outcome"], clean["excerpt"], clean["masked_text"]) == ("clear", None, "lovely day")
    bad = await client.post("/v1/screen", json={"text": ""}, headers=auth(settings))
    assert bad.status_code == 422 and "text" in bad.json()["detail"]
    assert (await client.post("/v1/screen", json={"text": "x"}, headers=auth(settings, roles=("company_user",)))).status_code == 403
    assert await count(runtime, "screenings") == 0 and await count(runtime, "flags") == 0 and await count(runtime, "outbox") == 0


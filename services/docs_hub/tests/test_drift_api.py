"""POST /v1/drift-check over real Postgres: findings against the indexed documents and catalogue,
waivers, and bad bodies (clear 422, nothing stored)."""

from __future__ import annotations

import pytest

from services.docs_hub.tests.support import KINTELL_README, auth, count, refresh, write

pytestmark = pytest.mark.integration
KINTELL = "services/kintell_connector/README.md"


async def check(client, settings, body: dict, *, status: int = 200) -> dict:
    r = await client.post("/v1/drift-check", json={"commit": "abc1234", **body}, headers=auth(settings, roles=("ci",)))
    assert r.status_code == status, r.text
    return r.json()


def found(result: dict) -> list[tuple]:
    return sorted((f["kind"], f["service"], f["ref"], f["waived"]) for f in result["findings"])


async def test_an_api_change_without_a_readme_update_fails(client, settings):
    await refresh(client, settings, commit="base")
    result = await check(client, settings, {"changed_files": [{"path": "services/unified_profile/api.py", "change": "modified"}]})
    assert result["passed"] is False and result["counts"] == {"error": 1, "warning": 0, "waived": 0}
    assert found(result) == [("spec_changed_without_doc", "unified-profile", "services/unified_profile/api.py", False)]
    assert result["touched_services"] == ["unified-profile"]
    assert result["indexed"]["commit"] == "base" and result["commit"] == "abc1234"


async def test_the_same_change_with_the_readme_passes(client, settings):
    await refresh(client, settings)
    result = await check(client, settings, {"changed_files": [
        {"path": "services/unified_profile/api.py", "change": "modified"},
        {"path": "./services/unified_profile/README.md", "change": "modified"},
    ]})
    assert result["passed"] is True and result["findings"] == []


async def test_dead_endpoints_and_unregistered_events_in_an_indexed_readme(client, repo, settings):
    write(repo, KINTELL, KINTELL_README + "\n`DELETE /v1/sessions/{id}` cancels. Emits kintell.session.cancelled.v1.\n")
    await refresh(client, settings)
    result = await check(client, settings, {"changed_files": [
        {"path": "services/kintell_connector/domain.py", "change": "modified"}]})
    assert found(result) == [
        ("dead_endpoint_reference", "kintell-connector", "DELETE /v1/sessions/{id}", False),
        ("unregistered_event_reference", "kintell-connector", "kintell.session.cancelled.v1", False),
    ]
    assert result["passed"] is False
    # an untouched service's README is only checked with scope "all"
    other = await check(client, settings, {"changed_files": [{"path": "services/unified_profile/domain.py", "change": "modified"}]})
    assert other["passed"] is True
    everything = await check(client, settings, {"scope": "all"})
    assert len(everything["findings"]) == 2


async def test_spec_changes_removing_an_endpoint_the_readme_documents(client, settings):
    await refresh(client, settings)
    result = await check(client, settings, {
        "changed_files": [{"path": "services/kintell_connector/api.py", "change": "modified"}],
        "spec_changes": [{"kind": "endpoint", "ref": "GET /v1/sessions/{session_id}", "change": "removed",
                          "service": "kintell-connector"}],
    })
    assert ("dead_endpoint_reference", "kintell-connector", "GET /v1/sessions/{session_id}", False) in found(result)


async def test_waivers_by_trailer_and_allowlist(client, settings):
    await refresh(client, settings)
    changed = [{"path": "services/unified_profile/api.py", "change": "modified"}]
    trailer = await check(client, settings, {"changed_files": changed, "message": "tidy\n\nDocs-Drift: skip\n"})
    assert trailer["passed"] is True and trailer["counts"]["waived"] == 1
    assert trailer["findings"][0]["waived_by"] == "commit message trailer Docs-Drift"
    allowed = await check(client, settings, {"changed_files": changed,
                                             "allowlist": [{"service": "unified-profile", "reason": "generated client"}]})
    assert allowed["passed"] is True and allowed["findings"][0]["waived_by"] == "allowlist: generated client"
    other = await check(client, settings, {"changed_files": changed, "allowlist": [{"kind": "doc_deleted"}]})
    assert other["passed"] is False


async def test_drift_findings_are_counted_in_metrics(client, settings):
    await refresh(client, settings)
    await check(client, settings, {"changed_files": [{"path": "services/unified_profile/api.py", "change": "modified"}]})
    text = (await client.get("/metrics")).text
    assert 'docs_hub_drift_findings_total{kind="spec_changed_without_doc",service="unified-profile"} 1.0' in text


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"commit": None}, "commit"),
        ({"commit": "has space"}, "commit"),
        ({"changed_files": [{"path": "/etc/passwd", "change": "modified"}]}, "relative"),
        ({"changed_files": [{"path": "services/../secrets", "change": "modified"}]}, "'..'"),
        ({"changed_files": [{"path": "a\\b.py", "change": "modified"}]}, "relative"),
        ({"changed_files": [{"path": "a.py", "change": "renamed"}]}, "change"),
        ({"changed_files": [{"path": "a.py", "change": "added"}, {"path": "a.py", "change": "deleted"}]}, "twice"),
        ({"spec_changes": [{"kind": "endpoint", "ref": "GET /v1/x", "change": "added"}]}, "needs its service"),
        ({"spec_changes": [{"kind": "endpoint", "ref": "/v1/x", "change": "added", "service": "a"}]}, "METHOD /path"),
        ({"spec_changes": [{"kind": "event", "ref": "not-an-event", "change": "added"}]}, "event type"),
        ({"allowlist": [{"reason": "because"}]}, "needs a service, a kind or a path"),
        ({"allowlist": [{"kind": "no_such_kind"}]}, "kind"),
        ({"scope": "everything"}, "scope"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_bad_bodies_are_422_and_say_what_is_wrong(client, runtime, settings, body, says):
    await refresh(client, settings)
    outbox_before = await count(runtime, "outbox")
    r = await client.post("/v1/drift-check", json={"commit": "abc1234", **body}, headers=auth(settings))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert says in problem["detail"] or any(says in e["msg"] or says in ".".join(e["loc"]) for e in problem["errors"])
    assert await count(runtime, "outbox") == outbox_before

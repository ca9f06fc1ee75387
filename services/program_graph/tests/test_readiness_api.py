"""Governance signals in over real NATS, statuses, dry-run, critical path and topology out."""

from __future__ import annotations

import pytest

from services.program_graph.service import service
from services.program_graph.tests.support import (
    OTHER,
    cap,
    ci_event,
    docs_event,
    facts_count,
    green,
    publish,
    put_nodes,
    reader,
    status_of,
    svc,
    wait_facts,
)
from summit_common import dlq
from tests.helpers import eventually

pytestmark = pytest.mark.integration

RELEASE = {"id": "release:1", "kind": "milestone", "depends_on": ["cap:a", "cap:b"]}


async def program(client, settings, tenant: str = "acme") -> None:
    await put_nodes(client, settings, svc("a"), svc("b"), cap("a", "service:a"), cap("b", "service:b", "cap:a"), RELEASE,
                    tenant=tenant)


async def test_signals_make_a_capability_ready_and_each_gate_shows_its_fact(client, runtime, bus, settings):
    await program(client, settings)
    before = await status_of(client, settings, "cap:a")
    assert before["status"] == "not_ready"
    assert {(g["rule"], g["actual"]) for g in before["failing"]} == {
        ("tests-green", "0 suite result(s) reported"), ("deployed", "no deployment to production reported"),
        ("slo-met", "0 reported"), ("docs-coverage", "no coverage reported")}

    events = green("a")
    for event in events:
        await publish(bus, runtime, event)
    await wait_facts(runtime, 4)
    after = await status_of(client, settings, "cap:a")
    assert after["status"] == "ready" and after["failing"] == [] and after["rule_pack"] == "standard@1"
    tests_gate = next(g for g in after["gates"] if g["rule"] == "tests-green")
    assert tests_gate["fact"]["event_id"] == events[0].id and tests_gate["arrived_at"] is not None
    assert tests_gate["fact"]["value"] == {"status": "passed", "passed": 12, "failed": 0, "commit": "abc123"}


async def test_a_failing_gate_explains_rule_expected_actual_fact_and_arrival(client, runtime, bus, settings):
    await program(client, settings)
    for event in [*green("a"), *green("b")]:
        await publish(bus, runtime, event)
    failing = await publish(bus, runtime, ci_event("a", "e2e", "failed", minutes=5))
    await wait_facts(runtime, 9)
    release = await status_of(client, settings, "release:1")
    assert release["status"] == "not_ready" and release["blocked_by"] == ["cap:a", "cap:b"]
    [cause] = release["root_causes"]
    assert (cause["node"], cause["rule"], cause["kind"], cause["subject"], cause["expected"], cause["actual"]) == (
        "cap:a", "tests-green", "tests_green", "a/e2e", "suite passed", "failed (12 passed, 1 failed)")
    assert cause["fact"]["event_id"] == failing.id and cause["fact"]["observed_at"].startswith(failing.data["reported_at"][:19])
    assert cause["arrived_at"] is not None
    cap_b = await status_of(client, settings, "cap:b")
    assert [(g["rule"], g["subject"], g["actual"]) for g in cap_b["failing"]] == [
        ("dependency", "cap:a", "not ready (1 failing gate(s))")]


async def test_an_older_report_arriving_late_does_not_hide_a_newer_one(client, runtime, bus, settings):
    await program(client, settings)
    await publish(bus, runtime, ci_event("a", status="passed", minutes=30))
    await publish(bus, runtime, ci_event("a", status="failed", minutes=10))
    await wait_facts(runtime, 2)
    facts = (await client.get("/v1/program/facts", params={"type": "ci", "subject": "a"}, headers=reader(settings))).json()["items"]
    assert [(f["key"], f["value"]["status"]) for f in facts] == [("unit", "passed")]


async def test_a_redelivered_signal_has_one_effect(client, runtime, bus, settings):
    event = ci_event("a")
    for n in range(3):
        await publish(bus, runtime, event, msg_id=f"{event.msg_id}-{n}")
    await publish(bus, runtime, ci_event("b"))  # a later event on the same consumer

    async def both_logged():
        return await facts_count(runtime, "fact_log") >= 2 and runtime.metrics.duplicates._value.get() >= 2

    await eventually(both_logged)
    log = (await client.get("/v1/program/facts/a/log", headers=reader(settings))).json()["items"]
    assert [e["event_id"] for e in log] == [event.id]
    assert await facts_count(runtime) == 2


async def test_invalid_and_inconsistent_signals_go_to_the_dlq_and_change_nothing(client, runtime, bus, settings):
    await publish(bus, runtime, ci_event("a", status="meh"))
    await publish(bus, runtime, ci_event("a", status="passed", failed=4))
    await publish(bus, runtime, docs_event("a", endpoint=1.5))

    async def dead():
        entries = await dlq.list_entries(bus, runtime.naming, service.name)
        return entries if len(entries) >= 3 else None

    entries = await eventually(dead)
    assert sorted(e.reason for e in entries) == ["invalid_data", "invalid_data", "rejected_by_handler"]
    rejected = next(e for e in entries if e.reason == "rejected_by_handler")
    assert "reported passed with 4 failed tests" in rejected.error and rejected.delivery_count == 1
    assert await facts_count(runtime) == 0 and await facts_count(runtime, "fact_log") == 0


async def test_facts_are_kept_per_tenant(client, runtime, bus, settings):
    await program(client, settings)
    for event in green("a", tenant=OTHER):
        await publish(bus, runtime, event)
    await wait_facts(runtime, 4)
    assert (await status_of(client, settings, "cap:a"))["status"] == "not_ready"
    assert (await client.get("/v1/program/facts", headers=reader(settings))).json()["items"] == []
    assert len((await client.get("/v1/program/facts", headers=reader(settings, tenant=OTHER))).json()["items"]) == 4


async def test_the_status_list_summarises_capabilities_and_milestones(client, runtime, bus, settings):
    await program(client, settings)
    for event in green("a"):
        await publish(bus, runtime, event)
    await wait_facts(runtime, 4)
    body = (await client.get("/v1/program/status", headers=reader(settings))).json()
    assert body["summary"] == {"nodes": 3, "ready": 1, "not_ready": 2}
    assert [(i["id"], i["status"]) for i in body["items"]] == [("cap:a", "ready"), ("cap:b", "not_ready"), ("release:1", "not_ready")]
    ready = (await client.get("/v1/program/status", params={"status": "ready"}, headers=reader(settings))).json()
    assert [i["id"] for i in ready["items"]] == ["cap:a"]


# --- dry-run ---------------------------------------------------------------------------------------------------


def ci_data(service: str, status: str = "passed") -> dict:
    return {"service": service, "suite": "unit", "status": status, "passed": 3, "failed": 0 if status == "passed" else 1,
            "reported_at": "2030-01-01T00:00:00Z"}


async def test_a_dry_run_simulates_statuses_and_stores_nothing(client, runtime, bus, settings):
    await put_nodes(client, settings, svc("a"), cap("a", "service:a", rule_pack="ci-only"), {**RELEASE, "depends_on": ["cap:a"]})
    await publish(bus, runtime, ci_event("a", status="failed"))
    await wait_facts(runtime, 1)
    body = {"facts": [{"type": "governance.ci.result.reported.v1", "data": ci_data("a")}]}
    r = await client.post("/v1/program/dry-run", json=body, headers=reader(settings))
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["dry_run"] is True and result["summary"] == {"nodes": 2, "ready": 2, "not_ready": 0}
    assert result["changed"] == [{"id": "cap:a", "from": "not_ready", "to": "ready"}, {"id": "release:1", "from": "not_ready", "to": "ready"}]
    assert await facts_count(runtime) == 1 and await facts_count(runtime, "fact_log") == 1
    assert (await status_of(client, settings, "cap:a"))["status"] == "not_ready"
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT version FROM programs") == 3


async def test_a_dry_run_with_hypothetical_nodes_and_an_empty_baseline(client, runtime, bus, settings):
    await put_nodes(client, settings, svc("a"), cap("a", "service:a", rule_pack="ci-only"))
    await publish(bus, runtime, ci_event("a"))
    await wait_facts(runtime, 1)
    body = {"upsert": [cap("new", "cap:a", rule_pack="none")], "targets": ["cap:new"]}
    current = (await client.post("/v1/program/dry-run", json=body, headers=reader(settings))).json()
    assert current["statuses"][0]["status"] == "ready" and current["changed"] == [{"id": "cap:new", "from": None, "to": "ready"}]
    empty = (await client.post("/v1/program/dry-run", json={**body, "baseline": "empty"}, headers=reader(settings))).json()
    assert empty["statuses"][0]["status"] == "not_ready" and empty["statuses"][0]["blocked_by"] == ["cap:a"]
    assert (await client.get("/v1/program/nodes/cap:new", headers=reader(settings))).status_code == 404


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"facts": [{"type": "governance.ci.result.reported.v1", "data": {"service": "a"}}]}, 422, "facts.0: governance.ci.result.reported.v1: suite"),
    ({"facts": [{"type": "governance.ci.result.reported.v1", "data": {**ci_data("a"), "failed": 2}}]}, 422, "reported passed with 2 failed"),
    ({"facts": [{"type": "kintell.session.completed.v1", "data": {}}]}, 422, "facts.0.type"),
    ({"upsert": [cap("x", "cap:y"), cap("y", "cap:x")]}, 422, "dependency cycle: cap:x -> cap:y -> cap:x"),
    ({"targets": ["cap:ghost"]}, 422, "not in the (hypothetical) program: cap:ghost"),
    ({"remove": ["service:a"]}, 409, "service:a is needed by cap:a"),
])
async def test_bad_dry_runs_say_why(client, runtime, settings, body, status, detail):
    await put_nodes(client, settings, svc("a"), cap("a", "service:a"))
    r = await client.post("/v1/program/dry-run", json=body, headers=reader(settings))
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"], r.json()["detail"]
    assert await facts_count(runtime) == 0


# --- critical path and topology ----------------------------------------------------------------------------------


async def test_critical_path_and_topology(client, settings):
    await put_nodes(client, settings, cap("design", duration=2), cap("build", "cap:design", duration=5),
                    cap("docs", "cap:design", duration=1), {**RELEASE, "depends_on": ["cap:build", "cap:docs"]})
    r = (await client.get("/v1/program/critical-path", headers=reader(settings))).json()
    assert r["duration"] == 7 and r["critical_path"] == ["cap:design", "cap:build", "release:1"]
    assert r["schedule"]["cap:docs"]["slack"] == 4 and r["path"][1] == {"id": "cap:build", "kind": "capability", "name": "cap:build",
                                                                         "duration": 5}
    to_docs = (await client.get("/v1/program/critical-path", params={"target": "cap:docs", "schedule": "false"},
                                headers=reader(settings))).json()
    assert to_docs["critical_path"] == ["cap:design", "cap:docs"] and to_docs["duration"] == 3 and "schedule" not in to_docs

    topo = (await client.get("/v1/program/topology", params={"status": "true"}, headers=reader(settings))).json()
    assert [n["id"] for n in topo["nodes"]] == ["cap:build", "cap:design", "cap:docs", "release:1"]
    assert {"from": "cap:design", "to": "cap:build", "relation": "required_by"} in topo["edges"]
    assert {n["status"] for n in topo["nodes"]} == {"ready"}  # no services to judge: dependencies only
    mermaid = await client.get("/v1/program/topology", params={"format": "mermaid", "critical": "true"}, headers=reader(settings))
    assert mermaid.headers["content-type"].startswith("text/plain") and mermaid.headers["x-program-version"] == "4"
    assert mermaid.text.startswith("flowchart LR\n") and "n_cap_design ==> n_cap_build" in mermaid.text
    assert "n_cap_design --> n_cap_docs" in mermaid.text


async def test_the_rule_packs_route(client, settings):
    body = (await client.get("/v1/program/rule-packs", headers=reader(settings))).json()
    assert {p["label"] for p in body["packs"]} >= {"standard@1", "ci-only@1", "release@1"}
    assert body["defaults"]["capability"] == "standard"
    assert {k["kind"] for k in body["rule_kinds"]} == {"tests_green", "deployed_version", "slo_met", "docs_coverage", "proposal_approved"}

"""Pure readiness: facts, rule packs (shipped ones and compatibility), each rule kind, node evaluation."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from services.program_graph import readiness
from services.program_graph.config import PACKS_DIR
from services.program_graph.readiness import Facts, RulePackError, evaluate, parse_pack
from services.program_graph.rule_packs import load_packs
from services.program_graph.tests.factories import (
    NOW,
    T0,
    all_green,
    ci,
    deploy,
    docs,
    evaluator,
    graph,
    node,
    proposal,
    slo,
)
from summit_contracts import REGISTRY

# --- facts ---------------------------------------------------------------------------------------------------


def test_every_consumed_event_maps_to_a_fact_keyed_by_subject():
    assert {f.fact_key for f in [ci("a", "e2e"), deploy("a", environment="staging"), slo("a", "latency"), docs("a"), proposal("P-1")]} == {
        ("ci", "a", "e2e"), ("deploy", "a", "staging"), ("slo", "a", "latency"), ("docs", "a", ""), ("proposal", "P-1", "")}
    assert set(readiness.FACT_EVENTS) == {t for t in (s.type for s in REGISTRY) if t.startswith("governance.")} - {
        "governance.proposal.submitted.v1", "governance.contract.deprecated.v1", "governance.readiness.signaled.v1"}


def test_a_passed_suite_with_failures_is_inconsistent():
    with pytest.raises(readiness.InconsistentFact, match="reported passed with 3 failed"):
        ci("a", status="passed", failed=3)
    assert ci("a", status="failed", failed=0).value["status"] == "failed"  # e.g. a collection error: legitimate


def test_naive_times_are_utc():
    fact = readiness.fact_of(readiness.DEPLOY, {"service": "a", "version": "1", "environment": "p", "deployed_at": datetime(2025, 1, 1)},
                             event_id="e", arrived_at=NOW)
    assert fact.observed_at.tzinfo is not None and fact.observed_at.utcoffset() == timedelta(0)


def test_the_latest_fact_wins_by_its_own_time_not_by_arrival():
    facts = Facts()
    assert facts.add(ci("a", status="failed", minutes=10))
    assert not facts.add(ci("a", status="passed", minutes=5))  # older, arrived later
    assert facts.get("ci", "a", "unit").value["status"] == "failed"
    assert facts.add(ci("a", status="passed", minutes=20))
    assert facts.get("ci", "a", "unit").value["status"] == "passed"
    assert not facts.add(ci("a", status="failed", minutes=20, event_id="ci-a-unit-20"))  # the same event again


def test_an_overlay_wins_whatever_its_time_and_leaves_the_original_alone():
    stored = Facts([ci("a", minutes=30)])
    simulated = stored.overlay([ci("a", status="failed", minutes=0)])
    assert simulated.get("ci", "a", "unit").value["status"] == "failed"
    assert stored.get("ci", "a", "unit").value["status"] == "passed"


# --- rule packs ---------------------------------------------------------------------------------------------------


def test_every_shipped_pack_loads_and_uses_known_rule_kinds():
    packs = load_packs(PACKS_DIR)
    assert {"standard", "ci-only", "release"} <= set(packs)
    for pack in packs.values():
        assert pack.format == 1 and pack.version >= 1
        assert all(rule.kind in readiness.RULE_KINDS for rule in pack.rules)
    assert [r.kind for r in packs["standard"].rules] == ["tests_green", "deployed_version", "slo_met", "docs_coverage"]


# Frozen copy of standard@1 as first shipped: later readers of format 1 must keep reading it,
# and judge the same facts the same way (the rule-pack compatibility regression check).
STANDARD_V1 = """
format: 1
name: standard
version: 1
rules:
  - {id: tests-green, kind: tests_green, params: {min_suites: 1}}
  - {id: deployed, kind: deployed_version, params: {environment: production}}
  - {id: slo-met, kind: slo_met, params: {min_reported: 1}}
  - {id: docs-coverage, kind: docs_coverage, params: {min_endpoint_coverage: 0.8, min_event_coverage: 0.8}}
"""


def test_a_format_1_pack_written_long_ago_still_loads_and_judges_like_the_shipped_one():
    frozen = parse_pack(yaml.safe_load(STANDARD_V1), origin="frozen")
    shipped = load_packs(PACKS_DIR)["standard"]
    g = graph(node("service:a", "service"), node("cap", "capability", "service:a"))
    for facts in (Facts(all_green("a")), Facts([ci("a"), deploy("a")]), Facts([*all_green("a"), docs("a", 0.5, 0.9, minutes=5)])):
        old = evaluate(g, facts, readiness.Evaluator({"standard": frozen}), now=NOW)["cap"]
        new = evaluate(g, facts, readiness.Evaluator({"standard": shipped}), now=NOW)["cap"]
        assert (old.ready, [(x.rule, x.passed) for x in old.gates]) == (new.ready, [(x.rule, x.passed) for x in new.gates])


@pytest.mark.parametrize(("text", "message"), [
    ("format: 2\nname: x\nversion: 1\nrules: []", "format 2 is not supported (this service reads format 1)"),
    ("format: 1\nname: x\nversion: 1\nrules: [{id: r, kind: vibes}]", "unknown kind 'vibes'"),
    ("format: 1\nname: x\nversion: 1\nrules: [{id: r, kind: docs_coverage, params: {min_endpoint_coverage: 2}}]",
     "less than or equal to 1"),
    ("format: 1\nname: x\nversion: 1\nrules: [{id: r, kind: slo_met, params: {slo: [a]}}]", "Extra inputs are not permitted"),
    ("format: 1\nname: x\nversion: 1\nrules: [{id: r, kind: slo_met}, {id: r, kind: tests_green}]", "rule ids listed twice: r"),
    ("format: 1\nname: X\nversion: 1\nrules: [{id: r, kind: slo_met}]", "name: String should match pattern"),
    ("format: 1\nname: x\nversion: 1\nrules: []", "rules: List should have at least 1 item"),
])
def test_invalid_packs_are_rejected_naming_the_problem(text, message):
    with pytest.raises(RulePackError) as err:
        parse_pack(yaml.safe_load(text), origin="p.yaml")
    assert message in str(err.value) and str(err.value).startswith("p.yaml")


def test_a_folder_with_a_bad_or_duplicate_pack_fails_to_load(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("format: 1\nname: a\nversion: 1\nrules: [{id: r, kind: slo_met}]\n")
    (tmp_path / "b.yaml").write_text("format: 1\nname: a\nversion: 2\nrules: [{id: r, kind: slo_met}]\n")
    with pytest.raises(RulePackError, match="b.yaml: rule pack 'a' is defined twice"):
        load_packs(tmp_path)
    (tmp_path / "b.yaml").write_text("rules: [unclosed\n")
    with pytest.raises(RulePackError, match="b.yaml: not valid YAML"):
        load_packs(tmp_path)


def test_node_overrides_are_checked_against_the_pack():
    pack = load_packs(PACKS_DIR)["standard"]
    assert readiness.check_rule_params(pack, {"docs-coverage": {"min_endpoint_coverage": 0.5}}) == []
    problems = readiness.check_rule_params(pack, {"nope": {}, "deployed": {"min_version": 3, "colour": 1}})
    assert problems[0].startswith("rule_params.deployed.")
    assert "rule_params.nope: standard@1 has no rule 'nope'" in problems[1]


# --- rule kinds ---------------------------------------------------------------------------------------------------


def gates_of(kind: str, params: dict, facts: list, subject: str = "a", now: datetime = NOW):
    spec = readiness.RULE_KINDS[kind]
    p = spec.params.model_validate(params)
    if spec.per_service:
        return spec.evaluate("r", p, subject, Facts(facts), now)
    return spec.evaluate("r", p, Facts(facts), now)


def outcome(gates) -> list[tuple[str, bool, str]]:
    return [(g.subject, g.passed, g.actual) for g in gates]


def test_tests_green():
    assert outcome(gates_of("tests_green", {}, [ci("a", "unit"), ci("a", "e2e", "failed")])) == [
        ("a/e2e", False, "failed (10 passed, 2 failed)"), ("a/unit", True, "passed (10 passed, 0 failed)")]
    assert outcome(gates_of("tests_green", {}, [])) == [("a", False, "0 suite result(s) reported")]
    assert outcome(gates_of("tests_green", {"suites": ["unit", "smoke"]}, [ci("a", "unit")])) == [
        ("a/smoke", False, "no result reported"), ("a/unit", True, "passed (10 passed, 0 failed)")]
    assert outcome(gates_of("tests_green", {"min_suites": 2}, [ci("a")]))[-1] == ("a", False, "1 suite result(s) reported")
    assert outcome(gates_of("tests_green", {"min_suites": 0}, [])) == []
    [stale] = gates_of("tests_green", {"max_age_hours": 0.5}, [ci("a")])
    assert (stale.passed, stale.actual, stale.expected) == (False, "the latest report is 1.0h old", "suite passed, reported within 0.5h")
    assert stale.fact is not None


def test_deployed_version():
    assert outcome(gates_of("deployed_version", {}, [])) == [("a", False, "no deployment to production reported")]
    assert outcome(gates_of("deployed_version", {}, [deploy("a", "2.1.0")])) == [("a", True, "version 2.1.0 deployed to production")]
    assert gates_of("deployed_version", {}, [deploy("a", environment="staging")])[0].passed is False
    assert gates_of("deployed_version", {"version": "2.1.0"}, [deploy("a", "2.1.0")])[0].passed
    assert not gates_of("deployed_version", {"version": "2.1.0"}, [deploy("a", "2.1.1")])[0].passed
    assert gates_of("deployed_version", {"min_version": "1.10"}, [deploy("a", "v1.10.0")])[0].passed
    assert not gates_of("deployed_version", {"min_version": "1.10.0"}, [deploy("a", "1.9.9")])[0].passed
    [odd] = gates_of("deployed_version", {"min_version": "1.0.0"}, [deploy("a", "main-abc123")])
    assert not odd.passed and odd.actual.endswith("(not comparable as versions)")
    assert gates_of("deployed_version", {"min_version": "1.0.0"}, [deploy("a", "1.2.0")])[0].expected == \
        "version >= 1.0.0 deployed to production"


def test_slo_met():
    assert outcome(gates_of("slo_met", {}, [slo("a", "availability"), slo("a", "latency", False)])) == [
        ("a/availability", True, "met over 30d"), ("a/latency", False, "missed over 30d")]
    assert outcome(gates_of("slo_met", {}, [])) == [("a", False, "0 reported")]
    assert outcome(gates_of("slo_met", {"slos": ["latency"], "min_reported": 0}, [])) == [("a/latency", False, "no report")]


@pytest.mark.parametrize(("endpoint", "event", "passed"), [(0.8, 0.8, True), (0.79, 0.9, False), (0.9, 0.5, False), (1, 1, True)])
def test_docs_coverage_at_and_around_the_threshold(endpoint, event, passed):
    [gate] = gates_of("docs_coverage", {}, [docs("a", endpoint, event)])
    assert gate.passed is passed
    assert gate.expected == "endpoint coverage >= 0.8 and event coverage >= 0.8"
    assert gates_of("docs_coverage", {}, [])[0].actual == "no coverage reported"


def test_proposal_approved():
    assert outcome(gates_of("proposal_approved", {"proposals": ["P-2", "P-1"]}, [proposal("P-1"), proposal("P-2", "rejected")])) == [
        ("P-1", True, "approved by council"), ("P-2", False, "rejected by council")]
    assert outcome(gates_of("proposal_approved", {"proposals": ["P-3"]}, [])) == [("P-3", False, "no decision yet")]


# --- evaluation ------------------------------------------------------------------------------------------------


def program():
    return graph(
        node("service:a", "service"), node("service:b", "service"),
        node("test:b-e2e", "test", service="b", suite="e2e"),
        node("cap:a", "capability", "service:a"),
        node("cap:b", "capability", "service:b", "test:b-e2e", "cap:a"),
        node("release:1", "milestone", "cap:a", "cap:b"),
    )


def test_everything_green_is_ready():
    facts = Facts([*all_green("a"), *all_green("b"), ci("b", "e2e")])
    statuses = evaluate(program(), facts, evaluator(), now=NOW)
    assert all(s.ready for s in statuses.values()), {n: s.failing for n, s in statuses.items()}
    assert statuses["cap:b"].subjects == ("b",) and statuses["cap:b"].rule_pack == "standard@1"
    assert statuses["test:b-e2e"].rule_pack == "builtin:suite-green"
    assert statuses["release:1"].rule_pack is None


def test_a_failing_gate_is_explained_with_its_fact_and_blocks_everything_above():
    late = docs("a", 0.5, 0.9, minutes=30)
    facts = Facts([*all_green("a"), late, *all_green("b"), ci("b", "e2e")])
    statuses = evaluate(program(), facts, evaluator(), now=NOW)
    cap_a = statuses["cap:a"]
    [gate] = cap_a.failing
    assert (gate.rule, gate.kind, gate.subject, gate.expected, gate.actual) == (
        "docs-coverage", "docs_coverage", "a", "endpoint coverage >= 0.8 and event coverage >= 0.8",
        "endpoint coverage 0.5, event coverage 0.9")
    assert gate.fact == late and gate.as_dict()["arrived_at"] == NOW
    assert statuses["cap:b"].blocked_by == ("cap:a",) and not statuses["cap:b"].ready
    assert statuses["release:1"].blocked_by == ("cap:a", "cap:b")
    causes = readiness.root_causes("release:1", program(), statuses)
    assert [(c["node"], c["rule"]) for c in causes] == [("cap:a", "docs-coverage")]
    assert causes[0]["fact"]["observed_at"] == T0 + timedelta(minutes=30)


def test_a_test_node_judges_its_own_suite():
    statuses = evaluate(program(), Facts([ci("b", "e2e", "failed")]), evaluator(), now=NOW, targets=["test:b-e2e"])
    assert set(statuses) == {"test:b-e2e"}  # it depends on nothing: only it is evaluated
    assert [(g.rule, g.subject, g.actual) for g in statuses["test:b-e2e"].failing] == [
        ("suite-green", "b/e2e", "failed (10 passed, 2 failed)")]


def test_packs_can_be_switched_off_overridden_or_missing():
    g = graph(node("service:a", "service"),
              node("cap:none", "capability", "service:a", rule_pack="none"),
              node("cap:ci", "capability", "service:a", rule_pack="ci-only"),
              node("cap:lax", "capability", "service:a", rule_params={"docs-coverage": {"min_endpoint_coverage": 0.4}}),
              node("cap:ghost", "capability", "service:a", rule_pack="ghost"))
    facts = Facts([*all_green("a"), docs("a", 0.5, 0.9, minutes=5)])
    statuses = evaluate(g, facts, evaluator(), now=NOW)
    assert statuses["cap:none"].ready and statuses["cap:none"].rule_pack is None
    assert statuses["cap:ci"].ready and statuses["cap:ci"].rule_pack == "ci-only@1"
    assert statuses["cap:lax"].ready
    [missing] = statuses["cap:ghost"].failing
    assert missing.actual.startswith("no rule pack named ghost; loaded: ci-only, release, standard")


def test_proposals_through_node_overrides():
    g = graph(node("cap:r", "capability", rule_pack="release", rule_params={"proposals": {"proposals": ["P-1"]}}))
    assert [g_.subject for g_ in evaluate(g, Facts(), evaluator(), now=NOW)["cap:r"].failing] == ["P-1"]
    assert evaluate(g, Facts([proposal("P-1")]), evaluator(), now=NOW)["cap:r"].ready  # no services: only the proposal rule


def test_a_node_without_services_is_judged_by_its_dependencies():
    g = graph(node("cap:umbrella", "capability", "cap:x"), node("cap:x", "capability", rule_pack="none"))
    statuses = evaluate(g, Facts(), evaluator(), now=NOW)
    assert statuses["cap:umbrella"].subjects == () and statuses["cap:umbrella"].ready


@st.composite
def programs(draw):
    n_services = draw(st.integers(1, 4))
    services = [f"s{i}" for i in range(n_services)]
    nodes = [node(f"service:{s}", "service") for s in services]
    caps = []
    for i in range(draw(st.integers(1, 8))):
        deps = draw(st.sets(st.sampled_from([f"service:{s}" for s in services] + caps), max_size=3))
        caps.append(f"cap:{i}")
        nodes.append(node(f"cap:{i}", "capability", *sorted(deps), rule_pack=draw(st.sampled_from(["ci-only", "standard", "none"]))))
    facts = []
    for s in services:
        for suite in draw(st.sets(st.sampled_from(["unit", "e2e"]), max_size=2)):
            facts.append(ci(s, suite, draw(st.sampled_from(["passed", "failed"]))))
        if draw(st.booleans()):
            facts += [deploy(s), slo(s), docs(s)]
    return graph(*nodes), Facts(facts)


@settings(max_examples=150)
@given(programs())
def test_a_ready_node_has_only_ready_ancestors_and_passing_gates(case):
    g, facts = case
    statuses = evaluate(g, facts, evaluator(), now=NOW)
    for node_id, status in statuses.items():
        assert status.ready == all(gate.passed for gate in status.gates)
        assert status.ready == (not status.failing)
        if status.ready:
            assert all(statuses[d].ready for d in g[node_id].depends_on)
        else:
            assert readiness.root_causes(node_id, g, statuses), node_id  # something concrete to fix

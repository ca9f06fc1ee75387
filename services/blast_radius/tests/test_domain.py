"""Risk, readiness, propagation invariants (hypothesis), analyzer contract tests, and the
analyzers against Summit's own catalogue. Pure: no I/O."""

from __future__ import annotations

import json
import math
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.blast_radius import analyzers, domain
from services.blast_radius.analyzers import ANALYZERS, assess
from services.blast_radius.domain import (
    BreakingChange,
    CatalogGraph,
    ImpactBuilder,
    ImpactNode,
    ProposalDecision,
    readiness,
)
from services.blast_radius.tests.catalogs import demo_catalog, removal

GRAPH = CatalogGraph.from_export(demo_catalog())


def closure(graph: CatalogGraph, event_type: str) -> set[str]:
    """Independent reference: every service that consumes the event or, transitively, an
    event emitted by an affected service (a plain BFS, no severities, no paths)."""
    seen: set[str] = set()
    queue = deque([event_type])
    while queue:
        for consumer in graph.consumers_of(queue.popleft()):
            if consumer not in seen:
                seen.add(consumer)
                queue.extend(graph.emitted_by(consumer))
    return seen


# --- risk ------------------------------------------------------------------------------------


def _node(i: int, severity: str, depth: int, kind: str = "service") -> ImpactNode:
    return ImpactNode(f"{kind}:n{i}", kind, f"n{i}", "consumer", severity, depth, (f"{kind}:n{i}",), "test")


def _impact(nodes: list[ImpactNode]) -> domain.Impact:
    builder = ImpactBuilder()
    for node in nodes:
        builder.add(node)
    return builder.build()


node_specs = st.lists(
    st.tuples(st.sampled_from(domain.SEVERITIES), st.integers(min_value=0, max_value=8), st.sampled_from(["service", "endpoint", "event"])),
    max_size=40,
)
base_terms = st.lists(st.tuples(st.text(max_size=5), st.floats(min_value=0, max_value=2, allow_nan=False)), max_size=6)


@given(node_specs, base_terms, st.floats(min_value=-1, max_value=2, allow_nan=False))
def test_risk_is_always_between_0_and_1(specs, terms, scope):
    impact = _impact([_node(i, *spec) for i, spec in enumerate(specs)])
    risk = domain.risk_score(impact, base_terms=terms, scope=scope)
    assert 0.0 <= risk.score <= 1.0
    assert risk.base <= domain.MAX_BASE


@given(node_specs, st.tuples(st.sampled_from(domain.SEVERITIES), st.integers(0, 8), st.sampled_from(["service", "endpoint"])), base_terms)
def test_one_more_affected_node_never_lowers_the_risk(specs, extra, terms):
    nodes = [_node(i, *spec) for i, spec in enumerate(specs)]
    before = domain.risk_score(_impact(nodes), base_terms=terms).score
    after = domain.risk_score(_impact([*nodes, _node(len(nodes), *extra)]), base_terms=terms).score
    assert after >= before


@given(node_specs, base_terms, st.floats(min_value=0, max_value=1, allow_nan=False))
def test_one_more_base_term_never_lowers_the_risk(specs, terms, value):
    impact = _impact([_node(i, *spec) for i, spec in enumerate(specs)])
    assert domain.risk_score(impact, base_terms=[*terms, ("more", value)]).score >= domain.risk_score(impact, base_terms=terms).score


def test_risk_of_nothing_is_zero_and_known_values():
    assert domain.risk_score(_impact([]), base_terms=[]).score == 0.0
    assert domain.risk_score(_impact([]), base_terms=[("breaking", domain.BASE_BREAKING)]).score == 0.25
    # 2 breaking direct + 1 degraded at depth 2: exposure 2.35 -> 1 - 0.75 * e^(-2.35/3)
    assert assess(removal(), GRAPH).risk == round(1 - 0.75 * math.exp(-2.35 / 3), 4) == 0.6573


def test_a_deeper_node_weighs_less_and_an_endpoint_half():
    assert domain.node_weight(_node(0, "breaking", 1)) == 1.0
    assert domain.node_weight(_node(0, "degraded", 3)) == pytest.approx(0.5 * 0.7 ** 2)
    assert domain.node_weight(_node(0, "breaking", 1, "endpoint")) == 0.5
    assert domain.node_weight(_node(0, "breaking", 1, "event")) == 0.0


# --- readiness -------------------------------------------------------------------------------

APPROVED = ProposalDecision("P-1", "demo.item.created.v1", "approved", True, "council", "2025-01-01T00:00:00+00:00")
CHANGE = BreakingChange(0, "demo.item.created.v1", "P-1")


@pytest.mark.parametrize(("risk", "breaking", "decisions", "ready", "reason"), [
    (0.1, [], {}, True, "risk 0.1 is below the threshold 0.5"),
    (0.5, [], {}, False, "risk 0.5 is not below the threshold 0.5"),
    (0.1, [BreakingChange(0, "demo.item.created.v1", None)], {}, False, "breaking change #0 to demo.item.created.v1 has no proposal_id"),
    (0.1, [CHANGE], {}, False, "breaking change #0 to demo.item.created.v1: proposal P-1 has no decision yet"),
    (0.1, [CHANGE], {"P-1": ProposalDecision("P-1", "demo.item.created.v1", "rejected", True, "c", "t")}, False,
     "breaking change #0 to demo.item.created.v1: proposal P-1 was rejected"),
    (0.1, [CHANGE], {"P-1": ProposalDecision("P-1", "demo.other.noted.v1", "approved", True, "c", "t")}, False,
     "breaking change #0 to demo.item.created.v1: proposal P-1 is for demo.other.noted.v1, not demo.item.created.v1"),
    (0.1, [CHANGE], {"P-1": ProposalDecision("P-1", "demo.item.created.v1", "approved", False, "c", "t")}, False,
     "breaking change #0 to demo.item.created.v1: proposal P-1 was approved as a non-breaking change"),
    (0.1, [CHANGE], {"P-1": APPROVED}, True, "breaking change #0 to demo.item.created.v1 is approved by proposal P-1"),
    (0.9, [CHANGE], {"P-1": APPROVED}, False, "risk 0.9 is not below the threshold 0.5"),
])
def test_readiness(risk, breaking, decisions, ready, reason):
    state = readiness(risk=risk, threshold=0.5, breaking=breaking, decisions=decisions)
    assert state.ready is ready
    assert reason in state.reasons


def test_readiness_lists_every_blocker_and_the_proposals_it_looked_at():
    state = readiness(risk=0.7, threshold=0.5, breaking=[CHANGE, BreakingChange(1, "x", None)], decisions={"P-1": APPROVED})
    assert not state.ready
    assert state.reasons == ("risk 0.7 is not below the threshold 0.5", "breaking change #1 to x has no proposal_id")
    assert [p["proposal_id"] for p in state.proposals] == ["P-1"]


def test_the_readiness_signal_is_valid_for_the_contract_and_capped():
    from summit_contracts import REGISTRY

    state = readiness(risk=0.7, threshold=0.5, breaking=[], decisions={})
    data = domain.readiness_signal(assessment_id="a-1", change_kind="schema_diff", risk=0.7, state=state,
                                   affected=[f"service:s{i}" for i in range(500)])
    REGISTRY.get(domain.READINESS_SIGNALED).validate(data)
    assert len(data["affected"]) == domain.MAX_SIGNAL_ITEMS and data["ready"] is False


# --- propagation invariants on random catalogues -----------------------------------------------


@st.composite
def catalogues(draw):
    n_services = draw(st.integers(min_value=1, max_value=8))
    n_events = draw(st.integers(min_value=1, max_value=10))
    services = [f"s{i}" for i in range(n_services)]
    events = [f"gen.e{i}.made.v1" for i in range(n_events)]
    producer = {e: draw(st.sampled_from(services)) for e in events}
    consumers = {e: sorted(draw(st.sets(st.sampled_from(services), max_size=n_services))) for e in events}
    return {
        "events": [{"type": e, "owner": producer[e], "producers": [producer[e]], "consumers": consumers[e], "schema": {}}
                   for e in events],
        "services": [{"name": s, "version": "1.0.0", "consumes": sorted(e for e in events if s in consumers[e]),
                      "produces": sorted(e for e in events if producer[e] == s), "http": []} for s in services],
    }


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(catalogues(), st.data())
def test_a_removal_affects_exactly_the_transitive_consumers_with_explaining_paths(export, data):
    graph = CatalogGraph.from_export(export)
    contract = data.draw(st.sampled_from(sorted(graph.events)))
    report = assess(removal(contract=contract, path="id"), graph).report
    affected = {n["name"] for n in report["nodes"] if n["affected"]}
    assert affected == closure(graph, contract)
    edges = {(e["from"], e["to"]) for e in report["edges"]}
    for node in report["nodes"]:
        path = node["path"]
        assert path[0] == domain.event_node(contract) and path[-1] == node["id"]
        assert all(pair in edges for pair in zip(path, path[1:], strict=False))
        if node["affected"]:
            assert node["depth"] == sum(1 for p in path if p.startswith("service:"))
            assert node["severity"] == ("breaking" if node["depth"] == 1 else "degraded")
    assert report["nodes"] == sorted(report["nodes"], key=lambda n: n["id"])
    assert report["edges"] == sorted(report["edges"], key=lambda e: (e["from"], e["to"], e["relation"]))
    assert 0.0 <= report["risk"]["score"] <= 1.0


@settings(max_examples=60)
@given(catalogues(), st.data(), st.randoms(use_true_random=False))
def test_the_report_does_not_depend_on_the_order_of_the_catalogue(export, data, rnd):
    contract = data.draw(st.sampled_from(sorted(e["type"] for e in export["events"])))
    shuffled = json.loads(json.dumps(export))
    rnd.shuffle(shuffled["events"])
    rnd.shuffle(shuffled["services"])
    for event in shuffled["events"]:
        rnd.shuffle(event["consumers"])
    first = assess(removal(contract=contract, path="id"), CatalogGraph.from_export(export)).report
    second = assess(removal(contract=contract, path="id"), CatalogGraph.from_export(shuffled)).report
    assert domain.digest(first) == domain.digest(second)


def test_a_malformed_catalogue_is_rejected():
    with pytest.raises(domain.CatalogError):
        CatalogGraph.from_export({"events": [{"no_type": 1}], "services": []})
    with pytest.raises(domain.CatalogError):
        CatalogGraph.from_export({"events": {}})


def test_the_fingerprint_changes_with_the_catalogue_only():
    export = demo_catalog()
    assert CatalogGraph.from_export(export).fingerprint == GRAPH.fingerprint
    export["events"][0]["consumers"].append("delta")
    assert CatalogGraph.from_export(export).fingerprint != GRAPH.fingerprint


# --- analyzer contract tests: every registered analyzer keeps the same promises ---------------------


def example_for(kind: str, graph: CatalogGraph) -> dict:
    """The analyzer's own example, filled with a contract / service of `graph` that has consumers."""
    event = next(e for e in sorted(graph.events) if graph.consumers_of(e))
    service = next(s for s in sorted(graph.services) if graph.emitted_by(s))
    text = json.dumps(ANALYZERS[kind].example).replace("<event>", event).replace("<service>", service)
    return json.loads(text)


@pytest.mark.parametrize("kind", sorted(ANALYZERS))
def test_analyzer_contract(kind):
    analyzer = ANALYZERS[kind]
    assert analyzer.kind == kind and analyzer.description
    assert analyzer.model.model_json_schema(by_alias=True)["properties"]["kind"]
    change = example_for(kind, GRAPH)
    found = assess(change, GRAPH)
    report = found.report
    ids = [n["id"] for n in report["nodes"]]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert report["roots"] and set(report["roots"]) <= set(ids)
    for node in report["nodes"]:
        assert node["path"][0] in report["roots"] and node["path"][-1] == node["id"]
        assert node["severity"] in domain.SEVERITIES
    assert report["affected"] == [n["id"] for n in report["nodes"] if n["affected"]]
    assert 0.0 <= found.risk <= 1.0
    assert json.loads(json.dumps(report, default=str)) == json.loads(json.dumps(assess(change, GRAPH).report, default=str))
    assert found.change_kind == kind
    with pytest.raises(analyzers.BundleError):
        assess({**change, "kind": kind, "unrelated": 1, **{k: 12345 for k in change if k not in ("kind",)}}, GRAPH)


# --- Summit's own catalogue --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def summit():
    from summit_common.catalog import export_catalog

    return CatalogGraph.from_export(export_catalog())


def test_every_consumed_contract_of_summit_has_its_consumers_and_theirs_affected_by_a_removal(summit):
    consumed = [e for e in sorted(summit.events) if summit.consumers_of(e)]
    assert consumed, "Summit's catalogue has consumed events"
    for contract in consumed:
        found = assess(removal(contract=contract, path=""), summit)
        assert {n.removeprefix("service:") for n in found.affected} == closure(summit, contract), contract
        direct = {n["name"] for n in found.report["nodes"] if n["severity"] == "breaking"}
        assert direct == set(summit.consumers_of(contract))


def test_the_catalogue_summary_matches_the_export(summit):
    from summit_common.catalog import export_catalog

    export = export_catalog()
    assert summit.summary()["events"] == len(export["events"])
    assert summit.summary()["services"] == len(export["services"])
    assert "blast-radius" in summit.services
    assert summit.consumers_of("governance.proposal.decided.v1") and "blast-radius" in summit.consumers_of("governance.proposal.decided.v1")

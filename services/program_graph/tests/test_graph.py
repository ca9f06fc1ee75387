"""Pure graph logic: node validation, cycles, CPM on known graphs, topology, sync, Summit's program."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.program_graph import domain
from services.program_graph.domain import GraphError, NodeSpec, critical_path, find_cycle, topological_order
from services.program_graph.tests.factories import graph, node, tiny_catalog

# --- nodes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "message"), [
    ({"id": "svc", "kind": "service"}, "a service node needs 'service'"),
    ({"id": "t", "kind": "test", "service": "a"}, "a test node needs 'suite'"),
    ({"id": "c", "kind": "capability", "suite": "unit"}, "'suite' is only for test nodes"),
    ({"id": "c", "kind": "capability", "depends_on": ["c"]}, "c cannot depend on itself"),
    ({"id": "c", "kind": "capability", "depends_on": ["a", "b", "a"]}, "listed twice: a"),
    ({"id": "Bad Id", "kind": "capability"}, "String should match pattern"),
    ({"id": "c", "kind": "epic"}, "Input should be 'capability', 'milestone', 'service' or 'test'"),
    ({"id": "c", "kind": "capability", "duration": -1}, "greater than or equal to 0"),
    ({"id": "c", "kind": "capability", "colour": "red"}, "Extra inputs are not permitted"),
])
def test_invalid_nodes_are_rejected_with_a_reason(fields, message):
    with pytest.raises(ValidationError) as err:
        NodeSpec.model_validate(fields)
    assert message in str(err.value)


def test_defaults_by_kind_and_stored_form():
    cap = node("cap:a", "capability", "service:a")
    assert cap.effective_duration == 1.0 and node("m", "milestone").effective_duration == 0.0
    assert node("service:a", "service").effective_duration == 0.0
    assert node("c", duration=2.5).effective_duration == 2.5
    assert cap.stored() == {"id": "cap:a", "kind": "capability", "depends_on": ["service:a"]}
    assert cap.display_name == "cap:a" and node("c", name="Checkout").display_name == "Checkout"
    assert NodeSpec(id="c", kind="capability", depends_on=("b", "a")).depends_on == ("a", "b")  # sorted: stable diffs


# --- cycles and order ------------------------------------------------------------------------------------


def test_find_cycle_names_the_cycle_deterministically():
    deps = {"a": ["b"], "b": ["c"], "c": ["a"], "d": []}
    assert find_cycle(deps) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": []}) is None
    assert find_cycle({"x": ["y"], "y": ["z"], "z": ["y"]}) == ["y", "z", "y"]


def test_topological_order_puts_dependencies_first_and_rejects_cycles():
    assert topological_order({"c": ["a", "b"], "b": ["a"], "a": []}) == ["a", "b", "c"]
    with pytest.raises(GraphError) as err:
        topological_order({"a": ["b"], "b": ["a"], "c": []})
    assert str(err.value) == "dependency cycle: a -> b -> a"
    assert err.value.problem == "cycle" and err.value.detail == {"cycle": ["a", "b", "a"]}


def test_validate_names_unknown_dependencies_then_cycles():
    with pytest.raises(GraphError) as err:
        domain.validate(graph(node("a", "capability", "ghost", "b"), node("b")))
    assert str(err.value) == "a depends on unknown ghost"
    with pytest.raises(GraphError) as err:
        domain.validate(graph(node("a", "capability", "b"), node("b", "capability", "c"), node("c", "capability", "a")))
    assert "a -> b -> c -> a" in str(err.value)


@st.composite
def dags(draw, max_nodes: int = 12):
    n = draw(st.integers(min_value=1, max_value=max_nodes))
    ids = [f"n{i:02d}" for i in range(n)]
    deps = {ids[i]: sorted(draw(st.sets(st.sampled_from(ids[:i]), max_size=3))) if i else [] for i in range(n)}
    durations = {i: draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 5.0])) for i in ids}
    return deps, durations


@given(dags(), st.data())
def test_a_back_edge_always_makes_a_named_cycle(dag, data):
    deps, _ = dag
    ids = sorted(deps)
    if len(ids) < 2:
        return
    low = data.draw(st.sampled_from(ids[:-1]))
    high = data.draw(st.sampled_from([i for i in ids if i > low]))
    with_cycle = {**deps, low: sorted({*deps[low], high})}
    # ids are created in order and depend only on smaller ids: low -> high closes a cycle iff high needs low
    if low not in domain.ancestors(deps, [high]):
        assert find_cycle(with_cycle) is None
        return
    cycle = find_cycle(with_cycle)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert all(b in with_cycle[a] for a, b in zip(cycle, cycle[1:], strict=False))


# --- critical path ---------------------------------------------------------------------------------------


def test_cpm_on_the_textbook_diamond():
    deps = {"A": [], "B": ["A"], "C": ["A"], "D": ["B", "C"]}
    result = critical_path(deps, {"A": 3, "B": 2, "C": 4, "D": 1})
    assert result.duration == 8
    assert result.critical_path == ("A", "C", "D")
    s = {n: slot.as_dict() for n, slot in result.slots.items()}
    assert s["B"] == {"duration": 2, "earliest_start": 3, "earliest_finish": 5, "latest_start": 5, "latest_finish": 7,
                      "slack": 2, "critical": False}
    assert s["C"]["slack"] == 0 and s["D"]["earliest_start"] == 7 and s["A"]["latest_start"] == 0


def test_cpm_on_a_project_with_parallel_chains_and_a_milestone():
    # design(2) -> build(5) -> test(3) -> release(0); design -> docs(1) -> release; ops(4) -> release
    deps = {"design": [], "build": ["design"], "test": ["build"], "docs": ["design"], "ops": [],
            "release": ["test", "docs", "ops"]}
    result = critical_path(deps, {"design": 2, "build": 5, "test": 3, "docs": 1, "ops": 4, "release": 0})
    assert result.duration == 10
    assert result.critical_path == ("design", "build", "test", "release")
    assert result.slots["docs"].slack == 7 and result.slots["ops"].slack == 6
    assert result.slots["release"].earliest_start == 10


def test_cpm_to_a_target_schedules_only_what_it_needs():
    deps = {"a": [], "b": ["a"], "c": [], "d": ["c"], "e": ["b", "d"]}
    result = critical_path(deps, {"a": 1, "b": 1, "c": 5, "d": 5, "e": 1}, target="b")
    assert set(result.slots) == {"a", "b"} and result.duration == 2 and result.critical_path == ("a", "b")
    with pytest.raises(GraphError):
        critical_path(deps, {}, target="zzz")


def test_cpm_breaks_ties_by_the_smaller_id_and_handles_empty_and_single():
    deps = {"s": [], "x": ["s"], "y": ["s"], "end": ["x", "y"]}
    assert critical_path(deps, {"s": 1, "x": 2, "y": 2, "end": 1}).critical_path == ("s", "x", "end")
    assert critical_path({}, {}).as_dict() == {"target": None, "duration": 0, "critical_path": [], "nodes": 0, "schedule": {}}
    assert critical_path({"solo": []}, {"solo": 4}).critical_path == ("solo",)


def test_cpm_rejects_a_cycle_naming_it():
    with pytest.raises(GraphError) as err:
        critical_path({"a": ["b"], "b": ["a"]}, {"a": 1, "b": 1})
    assert "a -> b -> a" in str(err.value)


def longest(deps, durations) -> float:
    memo: dict[str, float] = {}

    def finish(n: str) -> float:
        if n not in memo:
            memo[n] = max((finish(d) for d in deps[n]), default=0.0) + durations[n]
        return memo[n]

    return max((finish(n) for n in deps), default=0.0)


@settings(max_examples=150)
@given(dags())
def test_cpm_invariants_on_random_dags(dag):
    deps, durations = dag
    result = critical_path(deps, durations)
    assert result.duration == pytest.approx(longest(deps, durations))
    for n, slot in result.slots.items():
        assert slot.slack >= 0
        assert all(slot.earliest_start >= result.slots[d].earliest_finish - 1e-9 for d in deps[n])
        assert slot.latest_finish <= result.duration + 1e-9
        assert slot.earliest_start + slot.slack == pytest.approx(slot.latest_start)
    path = result.critical_path
    assert path and not deps[path[0]] and all(result.slots[n].critical for n in path)
    assert all(a in deps[b] for a, b in zip(path, path[1:], strict=False))
    assert sum(durations[n] for n in path) == pytest.approx(result.duration)


# --- topology ------------------------------------------------------------------------------------------------


def small():
    return graph(node("service:api", "service"), node("cap:api", "capability", "service:api", name='API "v2"'),
                 node("release:1", "milestone", "cap:api"))


def test_topology_json_is_sorted_and_points_from_prerequisite_to_dependent():
    topo = domain.topology(small(), statuses={"cap:api": "ready"})
    assert [n["id"] for n in topo["nodes"]] == ["cap:api", "release:1", "service:api"]
    assert topo["edges"] == [{"from": "cap:api", "to": "release:1", "relation": "required_by"},
                             {"from": "service:api", "to": "cap:api", "relation": "required_by"}]
    assert [n["status"] for n in topo["nodes"]] == ["ready", "unknown", "unknown"]
    assert "status" not in domain.topology(small())["nodes"][0]


def test_mermaid_export():
    text = domain.mermaid(small(), statuses={"cap:api": "ready", "release:1": "not_ready", "service:api": "ready"},
                          critical=("service:api", "cap:api"))
    assert text == (
        "flowchart LR\n"
        "  classDef ready fill:#d8f5d8,stroke:#2e7d32\n"
        "  classDef not_ready fill:#fbdada,stroke:#c62828\n"
        '  n_cap_api["API #quot;v2#quot;<br/>(capability)"]\n'
        '  n_release_1{{"release:1<br/>(milestone)"}}\n'
        '  n_service_api(["service:api<br/>(service)"])\n'
        "  n_cap_api --> n_release_1\n"
        "  n_service_api ==> n_cap_api\n"
        "  class n_cap_api,n_service_api ready\n"
        "  class n_release_1 not_ready\n"
    )


def test_mermaid_ids_are_safe_and_unique():
    assert domain.mermaid_ids(["a-b", "a_b", "a.b"]) == {"a-b": "n_a_b", "a.b": "n_a_b_2", "a_b": "n_a_b_3"}


# --- changes ----------------------------------------------------------------------------------------------


def test_diff_and_delete_blockers():
    before = small()
    after = {**before, "cap:api": node("cap:api", "capability", "service:api", duration=3)}
    del after["release:1"]
    after["cap:new"] = node("cap:new")
    assert [c.as_dict() for c in domain.diff(before, after)] == [
        {"op": "updated", "node_id": "cap:api"}, {"op": "created", "node_id": "cap:new"}, {"op": "deleted", "node_id": "release:1"}]
    assert domain.delete_blockers(before, ["service:api"]) == {"service:api": ["cap:api"]}
    assert domain.delete_blockers(before, ["service:api", "cap:api", "release:1"]) == {}


# --- Summit's catalogue as a program --------------------------------------------------------------------------


def test_the_catalogue_program_of_a_tiny_catalogue():
    program = domain.summit_program(tiny_catalog())
    nodes = {n.id: n for n in program.nodes}
    assert sorted(n for n in nodes if n.startswith("capability:")) == [
        "capability:audit", "capability:ingest", "capability:score", "capability:self", "capability:x", "capability:y"]
    assert nodes["capability:audit"].depends_on == ("capability:ingest", "capability:score", "service:audit")
    assert nodes["capability:score"].depends_on == ("capability:ingest", "service:score")
    assert nodes["capability:self"].depends_on == ("service:self",)  # consuming its own event is no dependency
    assert nodes["capability:audit"].rule_pack == "ci-only" and nodes["capability:audit"].source == "catalog"
    assert nodes["service:audit"].service == "audit"
    # x and y consume each other's events: the second edge would close a cycle and is reported
    assert nodes["capability:x"].depends_on == ("capability:y", "service:x")
    assert nodes["capability:y"].depends_on == ("service:y",)
    assert program.skipped_edges == ({"from": "capability:y", "to": "capability:x",
                                      "reason": "would close a cycle (events: t.x.said.v1)"},)
    assert nodes[domain.SUMMIT_RELEASE].depends_on == tuple(sorted(n for n in nodes if n.startswith("capability:")))
    domain.validate(nodes)


def test_summits_own_catalogue_makes_one_capability_per_service_and_a_valid_dag():
    from summit_common.catalog import export_catalog

    catalog = export_catalog()
    program = domain.summit_program(catalog)
    nodes = {n.id: n for n in program.nodes}
    assert {n.removeprefix("capability:") for n in nodes if n.startswith("capability:")} == {s["name"] for s in catalog["services"]}
    assert len(nodes) == 2 * len(catalog["services"]) + 1
    domain.validate(nodes)
    consumes = {s["name"]: set(s["consumes"]) for s in catalog["services"]}
    produces = {s["name"]: set(s["produces"]) for s in catalog["services"]}
    for e in catalog["events"]:
        for p in e["producers"]:
            produces.setdefault(p, set()).add(e["type"])
    for node_id, spec in nodes.items():
        if spec.kind != "capability":
            continue
        me = node_id.removeprefix("capability:")
        for dep in spec.depends_on:
            if dep.startswith("capability:"):
                assert consumes[me] & produces[dep.removeprefix("capability:")], (me, dep)


def test_a_sync_creates_then_changes_nothing_then_follows_the_catalogue():
    catalog = tiny_catalog()
    first = domain.plan_sync({}, domain.summit_program(catalog).nodes)
    assert {c.op for c in first.changes} == {"created"} and len(first.changes) == 13
    again = domain.plan_sync(first.after, domain.summit_program(catalog).nodes)
    assert again.changes == ()
    catalog["services"] = [s for s in catalog["services"] if s["name"] != "self"]
    gone = domain.plan_sync(first.after, domain.summit_program(catalog).nodes)
    assert sorted((c.op, c.node_id) for c in gone.changes) == [
        ("deleted", "capability:self"), ("deleted", "service:self"), ("updated", domain.SUMMIT_RELEASE)]


def test_a_sync_keeps_planning_data_and_nodes_people_still_need():
    catalog = tiny_catalog()
    after = dict(domain.plan_sync({}, domain.summit_program(catalog).nodes).after)
    after["capability:score"] = after["capability:score"].model_copy(update={"duration": 5.0, "owner": "team-score"})
    after["launch"] = node("launch", "milestone", "capability:self")  # a node of ours needs capability:self
    catalog["services"] = [s for s in catalog["services"] if s["name"] != "self"]
    plan = domain.plan_sync(after, domain.summit_program(catalog).nodes)
    assert plan.after["capability:score"].duration == 5.0 and plan.after["capability:score"].owner == "team-score"
    assert "capability:self" in plan.after and "service:self" in plan.after  # kept, with what it needs
    assert [k["node_id"] for k in plan.kept] == ["capability:self", "service:self"]
    assert plan.kept[0]["needed_by"] == ["launch"]
    domain.validate(plan.after)

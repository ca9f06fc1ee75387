"""Analyzers on contrived changes with known impact sets (pure, no I/O)."""

from __future__ import annotations

import math

import pytest

from services.blast_radius import analyzers, domain
from services.blast_radius.analyzers import BundleError, assess
from services.blast_radius.domain import CatalogGraph
from services.blast_radius.tests.catalogs import cyclic_catalog, demo_catalog, removal

GRAPH = CatalogGraph.from_export(demo_catalog())
ITEM = "event:demo.item.created.v1"


def nodes(report: dict) -> dict[str, dict]:
    return {n["id"]: n for n in report["nodes"]}


def affected_services(report: dict) -> set[str]:
    return {n["name"] for n in report["nodes"] if n["affected"] and n["kind"] == "service"}


# --- schema_diff -------------------------------------------------------------------------------


def test_removing_a_field_consumed_by_two_services_whose_outputs_reach_a_third_affects_exactly_those_three():
    found = assess(removal(), GRAPH)
    report = found.report
    assert affected_services(report) == {"alpha", "beta", "gamma"}
    assert found.affected == ("service:alpha", "service:beta", "service:gamma")
    by_id = nodes(report)
    assert by_id["service:alpha"]["path"] == [ITEM, "service:alpha"]
    assert by_id["service:beta"]["path"] == [ITEM, "service:beta"]
    # gamma is reached through alpha's and beta's outputs; the tie goes to the smaller id (alpha).
    assert by_id["service:gamma"]["path"] == [ITEM, "service:alpha", "event:demo.alpha.scored.v1", "service:gamma"]
    assert [by_id[s]["severity"] for s in ("service:alpha", "service:beta", "service:gamma")] == ["breaking", "breaking", "degraded"]
    assert [by_id[s]["depth"] for s in ("service:alpha", "service:beta", "service:gamma")] == [1, 1, 2]
    assert by_id["service:ingest"]["role"] == "producer" and not by_id["service:ingest"]["affected"]
    assert "service:delta" not in by_id and "service:audit" not in by_id
    edges = {(e["from"], e["to"], e["relation"]) for e in report["edges"]}
    assert {(ITEM, "service:alpha", "consumed_by"), (ITEM, "service:beta", "consumed_by"),
            ("service:alpha", "event:demo.alpha.scored.v1", "emits"), ("service:beta", "event:demo.beta.flagged.v1", "emits"),
            ("event:demo.alpha.scored.v1", "service:gamma", "consumed_by"),
            ("event:demo.beta.flagged.v1", "service:gamma", "consumed_by")} <= edges
    assert report["roots"] == [ITEM]
    assert found.breaking == (domain.BreakingChange(0, "demo.item.created.v1", None),)
    assert report["breaking"] is True


def test_every_path_is_a_walk_over_the_reported_edges():
    report = assess(removal(), GRAPH).report
    edges = {(e["from"], e["to"]) for e in report["edges"]}
    for node in report["nodes"]:
        assert node["path"][0] in report["roots"] and node["path"][-1] == node["id"]
        assert all(pair in edges for pair in zip(node["path"], node["path"][1:], strict=False)), node["id"]


def test_an_optional_field_added_notifies_direct_consumers_and_affects_nobody():
    found = assess({"kind": "schema_diff", "contract": "demo.item.created.v1",
                    "changes": [{"path": "note", "change": "optional_added"}]}, GRAPH)
    by_id = nodes(found.report)
    assert found.affected == () and found.breaking == ()
    assert by_id["service:alpha"]["severity"] == by_id["service:beta"]["severity"] == "notice"
    assert "service:gamma" not in by_id  # compatible changes do not propagate
    assert found.risk < 0.05
    assert "notified, not affected: alpha, beta" in found.report["summary"]


def test_usage_spares_a_consumer_that_does_not_read_the_removed_field():
    found = assess(removal(usage={"alpha": ["tags", "item_id"], "beta": ["owner"]}), GRAPH)
    by_id = nodes(found.report)
    assert affected_services(found.report) == {"beta", "gamma"}
    assert by_id["service:alpha"]["severity"] == "notice"
    assert "reads only item_id, tags" in by_id["service:alpha"]["reason"]
    assert by_id["service:gamma"]["path"] == [ITEM, "service:beta", "event:demo.beta.flagged.v1", "service:gamma"]


def test_usage_of_a_parent_field_counts_as_reading_the_removed_child():
    found = assess(removal(usage={"alpha": ["owner"], "beta": ["owner.system"]}), GRAPH)
    assert affected_services(found.report) == {"alpha", "gamma"}  # beta reads owner.system only, not owner.id


def test_usage_naming_a_non_consumer_is_a_warning():
    found = assess(removal(usage={"delta": ["x"]}), GRAPH)
    assert "changes[0].usage: delta does not consume demo.item.created.v1" in found.report["warnings"]


def test_an_unknown_contract_is_an_error_with_suggestions():
    with pytest.raises(BundleError) as err:
        assess(removal(contract="demo.item.create.v1"), GRAPH)
    assert err.value.errors[0]["loc"] == ["changes", 0, "contract"]
    assert "unknown contract 'demo.item.create.v1'" in str(err.value)
    assert "did you mean demo.item.created.v1" in str(err.value)


@pytest.mark.parametrize(("change", "breaking"), [
    ("removed", True), ("renamed", True), ("type_changed", True), ("required_added", True), ("enum_removed", True),
    ("added", False), ("optional_added", False), ("enum_added", False), ("description_changed", False), ("deprecated", False),
])
def test_breaking_is_derived_from_the_change_kind(change, breaking):
    found = assess({"kind": "schema_diff", "contract": "demo.item.created.v1", "changes": [{"path": "item_id", "change": change}]}, GRAPH)
    assert bool(found.breaking) is breaking
    assert bool(found.affected) is breaking


def test_an_explicit_breaking_flag_wins_and_a_surprising_one_is_flagged():
    found = assess({"kind": "schema_diff", "contract": "demo.item.created.v1",
                    "changes": [{"path": "item_id", "change": "removed", "breaking": False}]}, GRAPH)
    assert found.breaking == ()
    assert any("marked non-breaking" in w for w in found.report["warnings"])
    forced = assess({"kind": "schema_diff", "contract": "demo.item.created.v1",
                     "changes": [{"path": "note", "change": "added", "breaking": True}]}, GRAPH)
    assert forced.breaking and affected_services(forced.report) == {"alpha", "beta", "gamma"}


def test_an_unknown_change_kind_is_treated_as_breaking_raises_the_risk_and_is_reported():
    known = assess(removal(), GRAPH)
    found = assess({"kind": "schema_diff", "contract": "demo.item.created.v1",
                    "changes": [{"path": "item_id", "change": "semantics_changed"}]}, GRAPH)
    assert found.breaking
    assert "changes[0].changes[0]: unknown change kind 'semantics_changed'; treated as breaking" in found.report["warnings"]
    assert found.risk > known.risk
    assert any(t["term"].endswith("unknown change kind") for t in found.report["risk"]["base_terms"])


@pytest.mark.parametrize(("path", "exists"), [
    ("item_id", True), ("owner", True), ("owner.id", True), ("reviewer.system", True), ("tags", True),
    ("lines.sku", True), ("owner.nope", False), ("nope", False), ("item_id.deeper", False),
])
def test_paths_are_checked_against_the_schema(path, exists):
    found = assess(removal(path=path), GRAPH)
    warned = f"changes[0].changes[0]: {path!r} is not a field of demo.item.created.v1" in found.report["warnings"]
    assert warned is not exists
    assert analyzers.schema_has_path(GRAPH.events["demo.item.created.v1"].schema, path) is exists


def test_a_catalogue_with_a_loop_terminates_and_lists_each_service_once():
    graph = CatalogGraph.from_export(cyclic_catalog())
    report = assess(removal(contract="cyc.x.in.v1", path="id"), graph).report
    by_id = nodes(report)
    assert affected_services(report) == {"x", "y"}
    assert by_id["service:x"]["severity"] == "breaking" and by_id["service:y"]["severity"] == "degraded"
    # y produces the changed contract and is affected through x's output: the stronger role wins.
    assert by_id["service:y"]["path"] == ["event:cyc.x.in.v1", "service:x", "event:cyc.y.in.v1", "service:y"]


# --- schema-council's diff shape ------------------------------------------------------------------


def council_change(kind: str, path: str, *, backward: bool, forward: bool, classification: str) -> dict:
    """A change as schema-council's Change.as_dict() writes it."""
    return {"id": f"{kind}:{path}", "kind": kind, "path": path, "detail": "test", "backward": backward, "forward": forward,
            "classification": classification, "old": "string"}


def test_schema_councils_diff_is_read_as_it_is_sent():
    diff = {"kind": "schema_diff", "contract": "demo.item.created.v1", "proposal_id": "P-4", "changes": [
        council_change("required_field_removed", "$.owner.id", backward=True, forward=False, classification="backward-compatible"),
        council_change("field_added", "$.note", backward=True, forward=True, classification="additive"),
    ]}
    found = assess(diff, GRAPH)
    assert affected_services(found.report) == {"alpha", "beta", "gamma"}
    assert found.report["warnings"] == []
    assert found.report["changes"][0]["change"]["changes"] == [
        {"path": "note", "change": "added", "breaking": False}, {"path": "owner.id", "change": "removed", "breaking": True}]
    assert found.breaking == (domain.BreakingChange(0, "demo.item.created.v1", "P-4"),)


def test_schema_councils_forward_flag_decides_whether_consumers_break():
    compatible = council_change("field_removed", "$.tags", backward=True, forward=True, classification="additive")
    found = assess({"kind": "schema_diff", "contract": "demo.item.created.v1", "changes": [compatible]}, GRAPH)
    assert found.breaking == () and found.affected == ()
    only_class = {"kind": "enum_value_added", "path": "$.item_id", "classification": "backward-compatible"}
    assert assess({"kind": "schema_diff", "contract": "demo.item.created.v1", "changes": [only_class]}, GRAPH).breaking


@pytest.mark.parametrize(("path", "normal"), [
    ("$", ""), ("$.owner.id", "owner.id"), ('$["odd name"].x', "odd name.x"), ("$.lines[*].sku", "lines.sku"),
    ("$.pair[0]", "pair"), ("owner.id", "owner.id"), ("", ""),
])
def test_paths_in_schema_council_notation_are_normalised(path, normal):
    assert analyzers.normalize_path(path) == normal


# --- policy_change ------------------------------------------------------------------------------


def test_a_restricting_policy_breaks_the_endpoints_in_scope():
    found = assess({"kind": "policy_change", "service": "gateway", "policy": "rbac", "endpoints": ["/v1/items/*", "POST /v1/items"]}, GRAPH)
    assert found.affected == (
        "endpoint:gateway:DELETE /v1/items/{item_id}", "endpoint:gateway:GET /v1/items/{item_id}", "endpoint:gateway:POST /v1/items",
    )
    by_id = nodes(found.report)
    assert by_id["endpoint:gateway:POST /v1/items"]["path"] == ["policy:gateway:rbac", "service:gateway", "endpoint:gateway:POST /v1/items"]
    assert by_id["service:gateway"]["role"] == "enforcer" and not by_id["service:gateway"]["affected"]
    assert found.breaking == (domain.BreakingChange(0, "gateway", None),)


def test_a_policy_without_endpoint_scope_covers_every_endpoint_and_events_propagate():
    found = assess({"kind": "policy_change", "service": "gateway", "policy": "deny-list", "events": ["demo.access.denied.v1"]}, GRAPH)
    assert {a for a in found.affected if a.startswith("endpoint:")} == {f"endpoint:gateway:{e}" for e in GRAPH.services["gateway"].endpoints}
    assert "service:audit" in found.affected
    assert nodes(found.report)["service:audit"]["path"] == [
        "policy:gateway:deny-list", "service:gateway", "event:demo.access.denied.v1", "service:audit"]


def test_a_policy_limited_to_some_tenants_is_less_risky_than_the_same_policy_for_all():
    change = {"kind": "policy_change", "service": "gateway", "policy": "rbac"}
    everyone = assess(change, GRAPH)
    some = assess({**change, "tenants": ["acme"]}, GRAPH)
    assert some.affected == everyone.affected
    assert some.risk < everyone.risk


def test_relaxing_a_policy_breaks_nothing_but_carries_a_security_term():
    found = assess({"kind": "policy_change", "service": "gateway", "policy": "rbac", "effect": "relax"}, GRAPH)
    assert found.breaking == () and found.affected == ()
    assert [t["term"] for t in found.report["risk"]["base_terms"]] == ["changes[0] policy relaxed (security exposure)"]
    # 4 endpoints notified (0.05 x 0.5 each): exposure 0.1 on top of the 0.15 base
    assert found.risk == round(1 - (1 - domain.BASE_SECURITY_RELAX) * math.exp(-0.1 / 3), 4)
    assert {n["severity"] for n in found.report["nodes"] if n["kind"] == "endpoint"} == {"notice"}


@pytest.mark.parametrize(("change", "loc", "text"), [
    ({"service": "gateway", "policy": "p", "endpoints": ["GET /v1/nothing"]}, ["changes", 0, "endpoints", 0],
     "'GET /v1/nothing' matches no endpoint of gateway; its endpoints: DELETE /v1/items/{item_id}"),
    ({"service": "gateway", "policy": "p", "events": ["demo.item.created.v1"]}, ["changes", 0, "events", 0],
     "gateway does not emit 'demo.item.created.v1'; it emits: demo.access.denied.v1"),
    ({"service": "gatewy", "policy": "p"}, ["changes", 0, "service"], "did you mean gateway"),
])
def test_policy_scope_must_exist_in_the_catalogue(change, loc, text):
    with pytest.raises(BundleError) as err:
        assess({"kind": "policy_change", **change}, GRAPH)
    assert err.value.errors[0]["loc"] == loc
    assert text in str(err.value)


@pytest.mark.parametrize(("pattern", "expected"), [
    ("GET /v1/items", ["GET /v1/items"]),
    ("get /v1/items", ["GET /v1/items"]),
    ("/v1/items", ["GET /v1/items", "POST /v1/items"]),
    ("/v1/items*", ["DELETE /v1/items/{item_id}", "GET /v1/items", "GET /v1/items/{item_id}", "POST /v1/items"]),
    ("DELETE /v1/items/*", ["DELETE /v1/items/{item_id}"]),
    ("/v1/other", []),
])
def test_endpoint_patterns(pattern, expected):
    assert analyzers.match_endpoints(pattern, GRAPH.services["gateway"].endpoints) == expected


# --- service_version ------------------------------------------------------------------------------


def test_a_patch_release_affects_nothing():
    found = assess({"kind": "service_version", "service": "alpha", "from": "1.2.0", "to": "1.2.1"}, GRAPH)
    assert found.affected == () and found.breaking == () and found.risk == 0.0
    assert nodes(found.report)["service:alpha"]["role"] == "changed"


def test_a_major_release_without_named_endpoints_assumes_every_endpoint_breaks():
    found = assess({"kind": "service_version", "service": "gateway", "from": "1.2.0", "to": "2.0.0"}, GRAPH)
    assert len(found.affected) == 4 and all(a.startswith("endpoint:gateway:") for a in found.affected)
    assert any("every endpoint of gateway is assumed to break" in w for w in found.report["warnings"])
    assert found.breaking


def test_named_breaking_endpoints_and_removed_events():
    found = assess({"kind": "service_version", "service": "gateway", "from": "1.2.0", "to": "1.3.0",
                    "breaking_endpoints": ["DELETE /v1/items/{item_id}"], "removed_events": ["demo.access.denied.v1"]}, GRAPH)
    assert found.affected == ("endpoint:gateway:DELETE /v1/items/{item_id}", "service:audit")
    audit = nodes(found.report)["service:audit"]
    assert audit["path"] == ["service:gateway", "event:demo.access.denied.v1", "service:audit"]
    assert ("service:gateway", "event:demo.access.denied.v1", "stops_emitting") in {
        (e["from"], e["to"], e["relation"]) for e in found.report["edges"]}


def test_version_warnings_for_a_rollback_and_a_from_that_is_not_deployed():
    found = assess({"kind": "service_version", "service": "alpha", "from": "1.1.0", "to": "1.0.9"}, GRAPH)
    assert "changes[0]: the catalogue has alpha 1.2.0, not 1.1.0" in found.report["warnings"]
    assert "changes[0]: 1.0.9 is older than 1.1.0 (a rollback)" in found.report["warnings"]


@pytest.mark.parametrize(("versions", "loc"), [({"from": "one", "to": "1.0.0"}, "from"), ({"from": "1.0.0", "to": "2"}, "to")])
def test_versions_must_be_semantic(versions, loc):
    with pytest.raises(BundleError) as err:
        assess({"kind": "service_version", "service": "alpha", **versions}, GRAPH)
    assert err.value.errors[0]["loc"] == ["changes", 0, loc]
    assert "is not a semantic version" in str(err.value)


@pytest.mark.parametrize(("value", "parsed"), [("1.2.3", (1, 2, 3)), ("v10.0.1", (10, 0, 1)), ("1.2.3-rc.1", (1, 2, 3)),
                                               ("1.2", None), ("x", None)])
def test_parse_semver(value, parsed):
    assert analyzers.parse_semver(value) == parsed


# --- bundles ----------------------------------------------------------------------------------


def test_a_bundle_merges_its_changes_and_keeps_the_strongest_explanation():
    bundle = {
        "label": "PR 42",
        "proposal_id": "P-1",
        "changes": [
            {"kind": "schema_diff", "contract": "demo.alpha.scored.v1", "changes": [{"path": "id", "change": "removed"}]},
            removal(proposal_id="P-2"),
        ],
    }
    found = assess(bundle, GRAPH)
    by_id = nodes(found.report)
    # gamma is a direct (breaking) consumer of the first change; the second only reaches it transitively.
    assert by_id["service:gamma"]["severity"] == "breaking"
    assert by_id["service:gamma"]["path"] == ["event:demo.alpha.scored.v1", "service:gamma"]
    assert found.report["roots"] == ["event:demo.alpha.scored.v1", ITEM]
    assert found.proposal_ids == ("P-1", "P-2")
    assert [b.proposal_id for b in found.breaking] == ["P-1", "P-2"]
    assert found.change_kind == "schema_diff" and found.report["label"] == "PR 42"


def test_the_change_kind_of_a_mixed_bundle_names_every_kind():
    found = assess({"changes": [removal(), {"kind": "service_version", "service": "alpha", "from": "1.2.0", "to": "1.2.1"}]}, GRAPH)
    assert found.change_kind == "schema_diff+service_version"


def test_unknown_kinds_and_missing_fields_are_all_reported():
    with pytest.raises(BundleError) as err:
        assess({"changes": [{"kind": "model_swap"}, {"kind": "schema_diff", "contract": "x"}]}, GRAPH)
    assert err.value.errors[0] == {"loc": ["changes", 0, "kind"],
                                   "msg": "unknown change kind 'model_swap'; known kinds: policy_change, schema_diff, service_version"}
    assert err.value.errors[1]["loc"] == ["changes", 1, "changes"]


@pytest.mark.parametrize("raw", [{}, {"changes": []}, {"changes": [1]}, {"changes": [{}], "extra": 1}, []])
def test_malformed_bundles_are_errors(raw):
    with pytest.raises(BundleError):
        assess(raw, GRAPH)


def test_unknown_fields_are_ignored_and_named():
    found = assess({**removal(), "contract_kind": "jsonschema", "changes": [{"path": "item_id", "change": "removed", "note": "x"}]}, GRAPH)
    assert "changes[0]: ignored unknown field 'contract_kind'" in found.report["warnings"]
    assert "changes[0].changes[0]: ignored unknown field 'note'" in found.report["warnings"]


def test_the_same_bundle_gives_the_same_report_and_digest():
    first, second = assess(removal(), GRAPH), assess(removal(), GRAPH)
    assert domain.digest(first.report) == domain.digest(second.report)
    reordered = assess({"kind": "schema_diff", "contract": "demo.item.created.v1", "changes": [
        {"path": "tags", "change": "removed"}, {"path": "owner.id", "change": "removed"}]}, GRAPH)
    again = assess({"kind": "schema_diff", "contract": "demo.item.created.v1", "changes": [
        {"path": "owner.id", "change": "removed"}, {"path": "tags", "change": "removed"}]}, GRAPH)
    assert domain.digest(reordered.report) == domain.digest(again.report)


def test_the_summary_reads_like_a_report():
    summary = assess(removal(), GRAPH).report["summary"]
    assert summary[0] == "schema_diff of demo.item.created.v1: removed owner.id"
    assert "affected: 3 service(s): 2 direct (alpha, beta), 1 transitive (gamma); 0 endpoint(s)" in summary

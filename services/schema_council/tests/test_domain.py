"""Pure logic: the proposal state machine, analysis, impact, deprecation windows, the
catalogue view and the change log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.schema_council import domain
from services.schema_council.diff import Mode
from services.schema_council.domain import Actor, TransitionRequest

AUTHOR = Actor("alice", frozenset({"company_user"}))
REVIEWER = Actor("bob", frozenset({"schema_reviewer"}))
ADMIN = Actor("carol", frozenset({"admin"}))
PLATFORM_ADMIN = Actor("root", frozenset({"platform-admin"}))
NOBODY = Actor("mallory", frozenset())


def check(status, to, actor, *, breaking=False, published=True, accept=False, reason=None, created_by="alice"):
    domain.check_transition(status=status, created_by=created_by, breaking=breaking, published=published,
                            request=TransitionRequest(to=to, accept_breaking=accept, reason=reason), actor=actor)


# --- state machine -----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "to", "actor"), [
    ("draft", "review", AUTHOR),
    ("draft", "review", REVIEWER),
    ("review", "approved", REVIEWER),
    ("review", "rejected", REVIEWER),
    ("review", "approved", PLATFORM_ADMIN),
    ("review", "rejected", ADMIN),
])
def test_legal_transitions(status, to, actor):
    check(status, to, actor)


@pytest.mark.parametrize(("status", "to"), [
    ("draft", "approved"), ("draft", "rejected"), ("review", "review"), ("approved", "rejected"),
    ("approved", "review"), ("rejected", "approved"), ("approved", "approved"),
])
def test_illegal_transitions_conflict(status, to):
    with pytest.raises(domain.Conflict, match=f"cannot move to {to}"):
        check(status, to, ADMIN)


def test_unknown_target_is_bad_input():
    with pytest.raises(domain.Rejected, match="unknown status"):
        check("draft", "merged", ADMIN)


def test_only_author_or_reviewers_submit_for_review():
    with pytest.raises(domain.Forbidden, match="only the author"):
        check("draft", "review", NOBODY)


@pytest.mark.parametrize("to", ["approved", "rejected"])
def test_deciding_needs_a_reviewer_role(to):
    with pytest.raises(domain.Forbidden, match="schema_reviewer"):
        check("review", to, Actor("dave", frozenset({"company_user"})))


def test_four_eyes_the_author_cannot_decide_unless_admin():
    author_reviewer = Actor("alice", frozenset({"schema_reviewer"}))
    with pytest.raises(domain.Forbidden, match="four eyes"):
        check("review", "approved", author_reviewer)
    check("review", "approved", Actor("alice", frozenset({"admin"})))


def test_approving_a_breaking_change_to_a_published_contract_needs_explicit_acceptance():
    with pytest.raises(domain.Conflict, match="accept_breaking"):
        check("review", "approved", REVIEWER, breaking=True)
    with pytest.raises(domain.Rejected, match="needs a reason"):
        check("review", "approved", REVIEWER, breaking=True, accept=True, reason="  ")
    check("review", "approved", REVIEWER, breaking=True, accept=True, reason="no consumer reads it yet")
    # Rejecting needs no acceptance; a new contract (nothing published) has nothing to break.
    check("review", "rejected", REVIEWER, breaking=True)
    check("review", "approved", REVIEWER, breaking=True, published=False)


def test_a_retried_transition_is_recognised():
    assert domain.is_repeat(status="approved", to="approved", last_actor="bob", actor=REVIEWER)
    assert not domain.is_repeat(status="approved", to="approved", last_actor="carol", actor=REVIEWER)
    assert not domain.is_repeat(status="review", to="approved", last_actor="bob", actor=REVIEWER)


# --- documents and analysis --------------------------------------------------------------


def test_prepare_document_says_what_is_wrong():
    with pytest.raises(domain.Rejected, match="proposed: .*not a valid JSON Schema"):
        domain.prepare_document("jsonschema", {"type": "strnig"}, "proposed")
    with pytest.raises(domain.Rejected, match="proposed: .*line 3"):
        domain.prepare_document("protobuf", 'syntax = "proto3";\nmessage A {\n  string a = ;\n}', "proposed")
    with pytest.raises(domain.Rejected, match="does not resolve"):
        domain.prepare_document("jsonschema", {"properties": {"a": {"$ref": "#/$defs/Missing"}}}, "current")
    assert domain.prepare_document("openapi", "openapi: 3.0.3\npaths: {}\n", "current") == {"openapi": "3.0.3", "paths": {}}


def test_analyse_reports_changes_against_current_and_judges_every_version():
    v1 = {"type": "object", "properties": {"b": {"type": "string"}}}
    v2 = {"type": "object", "properties": {}}
    v3 = {"type": "object", "properties": {"b": {"type": "integer"}}}
    a = domain.analyse("jsonschema", history=[("v1", v1), ("v2", v2)], proposed=v3, mode=Mode.BACKWARD_TRANSITIVE)
    assert [c.kind for c in a.changes] == ["field_added"]  # against current (v2)
    assert a.breaking  # against v1 the type changed
    out = a.as_dict()
    assert out["verdict"]["violations"][0]["against_version"] == "v1"
    assert out["modes"]["BACKWARD"] is True and out["modes"]["BACKWARD_TRANSITIVE"] is False
    assert out["summary"] == {"total": 1, "additive": 1}


def test_rename_hints_are_validated():
    assert domain.validate_rename_hints({"$.a": "b"}) == {"$.a": "b"}
    with pytest.raises(domain.Rejected):
        domain.validate_rename_hints({"a": "b"})
    with pytest.raises(domain.Rejected):
        domain.validate_rename_hints(["a"])


def test_proposal_ids_are_restricted():
    assert domain.validate_proposal_id("prop-2024.01:x") == "prop-2024.01:x"
    for bad in ("", "-x", "a b", "x" * 101, "a/b"):
        with pytest.raises(domain.Rejected):
            domain.validate_proposal_id(bad)


def test_mode_parsing():
    assert domain.parse_mode(None, Mode.FULL) is Mode.FULL
    assert domain.parse_mode("full_transitive", Mode.BACKWARD) is Mode.FULL_TRANSITIVE
    with pytest.raises(domain.Rejected, match="unknown compatibility mode"):
        domain.parse_mode("SIDEWAYS", Mode.BACKWARD)


# --- impact ------------------------------------------------------------------------------

CATALOG = {
    "events": [
        {"type": "shop.order.placed.v1", "owner": "shop", "producers": ["shop"], "consumers": ["billing", "mail"],
         "description": "placed", "schema": {}},
        {"type": "shop.order.placed.v2", "owner": "shop", "producers": ["shop"], "consumers": ["billing"],
         "description": "placed v2", "schema": {}},
        {"type": "shop.order.shipped.v1", "owner": "shop", "producers": ["shop", "warehouse"], "consumers": [],
         "description": "shipped", "schema": {}},
    ],
    "services": [
        {"name": "shop", "description": "the shop", "version": "1.2.0", "consumes": [], "http": [{"path": "/v1/x"}],
         "produces": ["shop.order.placed.v1", "shop.order.placed.v2", "shop.order.shipped.v1"], "migrations": []},
        {"name": "billing", "description": "bills", "version": "2.0.0", "consumes": ["shop.order.placed.v1"],
         "http": [], "produces": [], "migrations": []},
    ],
}


def test_impact_of_an_event_contract_lists_producers_consumers_and_other_majors():
    out = domain.impact(kind="jsonschema", contract="shop.order.placed.v1", catalog=CATALOG, changes=[], breaking=True)
    assert out["known"] is True
    assert out["producers"] == ["shop"]
    assert out["consumers"] == ["billing", "mail"]
    assert out["at_risk"] == ["billing", "mail", "shop"]
    assert [r["contract"] for r in out["related_versions"]] == ["shop.order.placed.v2"]


def test_impact_of_a_new_major_names_the_services_that_migrate():
    out = domain.impact(kind="jsonschema", contract="shop.order.placed.v3", catalog=CATALOG, changes=[], breaking=False)
    assert out["known"] is False and out["services"] == [] and out["at_risk"] == []
    assert {r["contract"] for r in out["related_versions"]} == {"shop.order.placed.v1", "shop.order.placed.v2"}


def test_impact_of_a_service_api_and_of_an_unknown_contract():
    from services.schema_council.diff.model import ChangeKind, change

    changes = [change(ChangeKind.OPERATION_REMOVED, "GET /v1/x", "gone")]
    out = domain.impact(kind="openapi", contract="shop", catalog=CATALOG, changes=changes, breaking=True)
    assert out["known"] and out["producers"] == ["shop"] and out["operations"] == ["GET /v1/x"]
    unknown = domain.impact(kind="graphql", contract="partner-api", catalog=CATALOG, changes=[], breaking=False)
    assert unknown["known"] is False and unknown["services"] == []


# --- deprecation -------------------------------------------------------------------------

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_deprecation_window_is_at_least_90_days():
    assert domain.check_deprecation(now=NOW, sunset_at=NOW + timedelta(days=90), override_window=False, actor=REVIEWER) == 90
    with pytest.raises(domain.Rejected, match="at least 90 days"):
        domain.check_deprecation(now=NOW, sunset_at=NOW + timedelta(days=89), override_window=False, actor=ADMIN)
    with pytest.raises(domain.Forbidden, match="only an admin"):
        domain.check_deprecation(now=NOW, sunset_at=NOW + timedelta(days=10), override_window=True, actor=REVIEWER)
    assert domain.check_deprecation(now=NOW, sunset_at=NOW + timedelta(days=10), override_window=True, actor=ADMIN) == 10
    with pytest.raises(domain.Rejected, match="in the future"):
        domain.check_deprecation(now=NOW, sunset_at=NOW - timedelta(days=1), override_window=True, actor=ADMIN)


def test_event_versions_normalise():
    assert domain.normalise_event_version("V2") == "v2"
    assert domain.normalise_event_version("1") == "v1"
    with pytest.raises(domain.Rejected):
        domain.normalise_event_version("1.0")


# --- catalogue view ----------------------------------------------------------------------


def test_catalog_groups_majors_and_overlays_deprecations_and_tenant_revisions():
    deprecations = [{"contract": "shop.order.placed", "version": "v1", "deprecated_at": NOW,
                     "sunset_at": NOW + timedelta(days=120), "replacement": "shop.order.placed.v2", "notice": None,
                     "deprecated_by": "bob", "window_overridden": False}]
    revisions = [
        {"contract": "partner-api", "revision": 1, "kind": "graphql", "owner": "partners", "proposal_id": "p1",
         "approved_by": "bob", "approved_at": NOW},
        {"contract": "shop.order.placed.v1", "revision": 1, "kind": "jsonschema", "owner": "shop", "proposal_id": "p2",
         "approved_by": "bob", "approved_at": NOW},
    ]
    entries = domain.build_catalog(platform=CATALOG, modes={"shop.order.placed.v1": "FULL"}, deprecations=deprecations,
                                   revisions=revisions, now=NOW + timedelta(days=1))
    by = {e["contract"]: e for e in entries}
    placed = by["shop.order.placed"]
    assert [v["version"] for v in placed["versions"]] == ["v1", "v2"]
    assert placed["latest_version"] == "v2" and placed["status"] == "active"
    v1 = placed["versions"][0]
    assert v1["status"] == "deprecated" and v1["compatibility"] == "FULL"
    assert v1["deprecation"]["window_days"] == 120 and v1["deprecation"]["days_left"] == 119
    assert v1["consumers"] == ["billing", "mail"]
    assert placed["approved_changes"][0]["proposal_id"] == "p2"
    assert by["shop"]["kind"] == "openapi" and by["shop"]["versions"][0]["version"] == "1.2.0"
    assert by["partner-api"]["source"] == "tenant" and by["partner-api"]["latest_version"] == "1"
    # After the sunset the version is 'sunset'.
    later = domain.build_catalog(platform=CATALOG, modes={}, deprecations=deprecations, revisions=[],
                                 now=NOW + timedelta(days=200))
    assert {e["contract"]: e for e in later}["shop.order.placed"]["versions"][0]["status"] == "sunset"


def test_catalog_version_resolution():
    entries = {e["contract"]: e for e in domain.build_catalog(platform=CATALOG, modes={}, deprecations=[], revisions=[],
                                                              now=NOW)}
    assert domain.resolve_catalog_version(entries["shop.order.placed"], "2") == "v2"
    assert domain.resolve_catalog_version(entries["shop"], "v1") == "1.2.0"
    assert domain.resolve_catalog_version(entries["shop"], "1.2.0") == "1.2.0"
    with pytest.raises(domain.Rejected, match="no version"):
        domain.resolve_catalog_version(entries["shop.order.placed"], "v9")


# --- change log --------------------------------------------------------------------------

ROW = {
    "proposal_id": "p-1", "contract": "shop.order.placed.v1", "kind": "jsonschema", "title": "Add | coupon",
    "owner": "shop", "rationale": "needed\nfor <promo>", "status": "approved", "decided_at": NOW, "decided_by": "bob",
    "breaking": True, "accept_breaking_reason": "only billing reads it; agreed",
    "analysis": {"mode": "BACKWARD", "changes": [{"id": "required_field_added:$.coupon", "kind": "required_field_added",
                                                  "path": "$.coupon", "detail": "required field 'coupon' added",
                                                  "classification": "forward-compatible", "backward": False,
                                                  "forward": True}]},
}


def test_changelog_markdown_and_json():
    entries = [domain.changelog_entry(ROW)]
    deps = [{"contract": "shop.order.placed", "version": "v1", "deprecated_at": NOW.isoformat(),
             "sunset_at": (NOW + timedelta(days=90)).isoformat(), "replacement": "shop.order.placed.v2", "notice": None}]
    md = domain.render_changelog_markdown(entries=entries, deprecations=deps, since=date(2024, 12, 1), generated_at=NOW)
    assert "## 2025-01-01 - `shop.order.placed.v1` (jsonschema): approved" in md
    assert "Add \\| coupon" in md and "needed for &lt;promo>" in md
    assert "Breaking change accepted: only billing reads it; agreed" in md
    assert "`required_field_added` `$.coupon`" in md
    assert "| `shop.order.placed` | v1 | 2025-01-01 | 2025-04-01 | shop.order.placed.v2 |" in md
    js = domain.render_changelog_json(entries=entries, deprecations=deps, since=None, generated_at=NOW)
    assert js["entries"][0]["changes"][0]["id"] == "required_field_added:$.coupon"
    assert js["entries"][0]["decision"] == "approved"
    assert "backward" not in js["entries"][0]["changes"][0]


def test_request_fingerprint_ignores_the_id_but_not_the_content():
    a = domain.request_fingerprint({"proposal_id": "x", "kind": "jsonschema", "proposed": {"a": 1}})
    assert a == domain.request_fingerprint({"proposal_id": "y", "kind": "jsonschema", "proposed": {"a": 1}})
    assert a != domain.request_fingerprint({"proposal_id": "x", "kind": "jsonschema", "proposed": {"a": 2}})


def test_impact_says_when_the_catalogue_was_incomplete():
    partial = {**CATALOG, "complete": False}
    assert domain.impact(kind="jsonschema", contract="shop.order.placed.v1", catalog=partial, changes=[],
                         breaking=False)["catalog_complete"] is False
    assert domain.impact(kind="jsonschema", contract="shop.order.placed.v1", catalog=CATALOG, changes=[],
                         breaking=False)["catalog_complete"] is True


def test_a_service_that_does_not_import_degrades_the_catalogue_instead_of_failing(monkeypatch):
    from services.schema_council import catalog
    from summit_common import catalog as platform_catalog

    def broken():
        raise ImportError("a neighbour is half-written")

    monkeypatch.setattr(catalog, "_platform_cache", {})
    monkeypatch.setattr(platform_catalog, "export_catalog", broken)
    degraded = catalog._platform()
    assert degraded["complete"] is False and degraded["services"] == []
    spec = next(e for e in degraded["events"] if e["type"] == "governance.proposal.decided.v1")
    assert spec["producers"] == ["schema-council"] and spec["consumers"] == []
    assert catalog._platform_cache == {}  # not cached: the next call tries again

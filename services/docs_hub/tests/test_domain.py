"""Unit tests of domain.py (no I/O): path and mention matching, hashing and versioning, links,
coverage math, freshness, capability, drift findings and rendering."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from services.docs_hub import domain
from services.docs_hub.domain import (
    PARAM,
    REST,
    Action,
    ChangedFile,
    Route,
    SourceDoc,
    SpecChange,
    StoredDoc,
    Waiver,
)
from services.docs_hub.tests.factories import (
    CATALOGUE,
    COVERAGE,
    GATEWAY,
    KINTELL,
    KINTELL_EVENTS,
    KINTELL_README,
    PROFILE,
    PROFILE_README,
    PROFILE_UPDATED,
    adr,
    readme,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def refs(text: str) -> list[str]:
    return sorted({m.ref for m in domain.endpoint_mentions(text)})


# --- paths ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/profiles/{profile_id}", ("v1", "profiles", PARAM)),
        ("/v1/profiles/{id}", ("v1", "profiles", PARAM)),
        ("/v1/profiles/:id", ("v1", "profiles", PARAM)),
        ("/v1/profiles/<id>", ("v1", "profiles", PARAM)),
        ("/v1/items/{n:int}", ("v1", "items", PARAM)),
        ("/api/{path:path}", ("api", REST)),
        ("/v1/sessions/", ("v1", "sessions")),
        ("/v1/sessions?type=language#top", ("v1", "sessions")),
        ("//v1//sessions", ("v1", "sessions")),
        ("/v1/index:refresh", ("v1", "index:refresh")),
        ("/", ()),
    ],
)
def test_path_segments_normalise_every_parameter_spelling(path, expected):
    assert domain.path_segments(path) == expected


def test_normalise_path_gives_one_spelling():
    assert domain.normalise_path("/v1/a/{x}/b/:y/") == domain.normalise_path("/v1/a/<id>/b/{other}") == "/v1/a/{}/b/{}"


@pytest.mark.parametrize(
    ("mention", "template", "score"),
    [
        ("/v1/profiles/mappings", "/v1/profiles/mappings", 6),
        ("/v1/profiles/mappings", "/v1/profiles/{profile_id}", 4),  # a concrete value in a parameter's place
        ("/v1/profiles/{id}", "/v1/profiles/{profile_id}", 5),
        ("/v1/profiles/{id}", "/v1/profiles/mappings", None),  # a placeholder never matches a literal
        ("/v1/profiles", "/v1/profiles/{profile_id}", None),
        ("/v1/profiles/x/y", "/v1/profiles/{profile_id}", None),
        ("/v2/profiles/x", "/v1/profiles/{profile_id}", None),
        ("/api/v1/profiles/7", "/api/{path:path}", 2),
        ("/api", "/api/{path:path}", None),  # the rest of the path needs at least one segment
        ("/api/{path:path}", "/api/{path:path}", 3),
        ("/api/{rest:path}", "/api/{id}", None),
    ],
)
def test_match_score(mention, template, score):
    assert domain.match_score(domain.path_segments(mention), domain.path_segments(template)) == score


def test_best_routes_prefers_the_most_specific_route():
    [route] = domain.best_routes("GET", "/v1/profiles/{id}", PROFILE.routes)
    assert route.key == "GET /v1/profiles/{profile_id}"
    [route] = domain.best_routes("POST", "/v1/profiles/mappings", PROFILE.routes)
    assert route.key == "POST /v1/profiles/mappings"
    # GET /v1/profiles/mappings is a concrete id for the GET route (there is no GET mappings route)
    [route] = domain.best_routes("GET", "/v1/profiles/mappings", PROFILE.routes)
    assert route.key == "GET /v1/profiles/{profile_id}"


def test_best_routes_without_a_method_returns_every_method_of_the_path():
    keys = sorted(r.key for r in domain.best_routes(None, "/v1/profiles/{x}", PROFILE.routes))
    assert keys == ["GET /v1/profiles/{profile_id}", "PUT /v1/profiles/{profile_id}"]


def test_best_routes_needs_the_same_method_and_uses_router_templates():
    assert domain.best_routes("DELETE", "/v1/profiles/{id}", PROFILE.routes) == []
    [route] = domain.best_routes("get", "/api/v1/anything/at/all", GATEWAY.routes)
    assert route.key == "GET /api/{path}"
    assert domain.best_routes("GET", "/v1/nothing", PROFILE.routes) == []


# --- endpoint mentions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /v1/sessions", ["GET /v1/sessions"]),
        ("`GET /v1/sessions/{session_id}`", ["GET /v1/sessions/{session_id}"]),
        ("**POST** `/v1/import/kintell-sessions`", ["POST /v1/import/kintell-sessions"]),
        ("| GET | `/v1/imports/{import_id}` | report |", ["GET /v1/imports/{import_id}"]),
        ("| `GET /v1/profiles?system=&external_id=` | lookup |", ["GET /v1/profiles"]),
        ("GET: /v1/x", ["GET /v1/x"]),
        ("GET/POST /v1/x", ["GET /v1/x", "POST /v1/x"]),
        ("GET, PUT /v1/x/{id}", ["GET /v1/x/{id}", "PUT /v1/x/{id}"]),
        ("GET and DELETE /v1/x", ["DELETE /v1/x", "GET /v1/x"]),
        ("| POST | `/v1/matches`, `/v1/events` and `/v1/feedback` | JSON |",
         ["POST /v1/events", "POST /v1/feedback", "POST /v1/matches"]),
        ("POST /v1/a?x=1, /v1/b.", ["POST /v1/a", "POST /v1/b"]),
        ("Reads: GET /v1/p/{id}, GET /v1/p (lookup)", ["GET /v1/p", "GET /v1/p/{id}"]),
        ("call POST /v1/index:refresh.", ["POST /v1/index:refresh"]),
        ("see GET /v1/docs/.", ["GET /v1/docs"]),
        ("(on `GET`/`PUT` by id)", []),
        ("get /v1/x", []),  # methods are upper case
        ("TARGET /v1/x and GETS /v1/y", []),
        ("GET /", []),  # the root alone is never an endpoint
        ("the path /v1/sessions alone", []),
        ("GET\n/v1/x", []),  # method and path on one line
        ("curl -X POST -H 'a: b' localhost:8000/v1/x", []),
        ("`ON DELETE/UPDATE`, `MATCH`", []),  # SQL, not an endpoint
        ("GET/v1/x", []),  # a method needs a separator before its path
    ],
)
def test_endpoint_mentions(text, expected):
    assert refs(text) == expected


def test_endpoint_mentions_carry_their_line():
    mentions = domain.endpoint_mentions("# t\n\nGET /v1/a\ntext\nPOST /v1/b\n")
    assert [(m.ref, m.line) for m in mentions] == [("GET /v1/a", 3), ("POST /v1/b", 5)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /v1/x/{id}", ("GET", "/v1/x/{id}")),
        ("  post /v1/x  ", ("POST", "/v1/x")),
        ("/v1/x?limit=3", (None, "/v1/x")),
        ("/v1/x/", (None, "/v1/x")),
    ],
)
def test_parse_endpoint(text, expected):
    assert domain.parse_endpoint(text) == expected


@pytest.mark.parametrize("text", ["", "v1/x", "FETCH /v1/x", "GET v1/x", "GET /v1/x y", "GET"])
def test_parse_endpoint_rejects_malformed_input_with_a_reason(text):
    with pytest.raises(ValueError, match="endpoint"):
        domain.parse_endpoint(text)


# --- event mentions -------------------------------------------------------------------------------


def test_event_mentions_find_whole_event_types():
    text = (
        "Emits `kintell.session.completed.v1`, then orchestration.journey.milestone.reached.v2.\n"
        "Not: kintell.*, x.kintell.session.completed.v1x, foo-bar.baz.qux.v1, a.b.v1, schema.kintell.session.v1.json, "
        "https://example.com/a.b.c.v1"
    )
    assert domain.event_mentions(text) == {"kintell.session.completed.v1", "orchestration.journey.milestone.reached.v2"}


def test_an_event_type_inside_a_longer_dotted_token_is_that_token():
    assert domain.event_mentions("t1.kintell.session.completed.v1") == {"t1.kintell.session.completed.v1"}


# --- markdown structure and services named --------------------------------------------------------


def test_headings_skip_fenced_code_and_title_is_the_first_h1():
    text = "intro\n## Events\n```sh\n# not a heading\n```\n# Real title #\n### Deep\n"
    assert domain.headings(text) == [(2, "Events"), (1, "Real title"), (3, "Deep")]
    assert domain.title_of(text, "fallback") == "Real title"
    assert domain.title_of("no headings", "fallback") == "fallback"


def test_services_named_by_name_folder_or_file_name():
    services = CATALOGUE.services
    assert domain.services_named("The kintell-connector outbox.", "0001-outbox.md", services) == ("kintell-connector",)
    assert domain.services_named("see services/unified_profile/api.py", "x.md", services) == ("unified-profile",)
    assert domain.services_named("nothing here", "kintell_connector-outage.md", services) == ("kintell-connector",)
    assert domain.services_named("nothing here", "unified-profile.md", services) == ("unified-profile",)
    # not a whole word: no match
    assert domain.services_named("the kintell-connector-v2 plan, unified-profiles", "y.md", services) == ()
    assert domain.services_named("kintell-connector and unified-profile", "z.md", services) == (
        "kintell-connector", "unified-profile")


# --- hashing and versioning -----------------------------------------------------------------------


def test_sha256_is_of_the_utf8_text():
    assert domain.sha256_text("Ærø") == hashlib.sha256("Ærø".encode()).hexdigest()
    assert SourceDoc(key="k", kind="readme", title="t", content="abc").sha256 == hashlib.sha256(b"abc").hexdigest()


def test_canonical_json_does_not_depend_on_key_order():
    a = domain.canonical_json({"b": 1, "a": {"y": [1, 2], "x": "é"}})
    b = domain.canonical_json({"a": {"x": "é", "y": [1, 2]}, "b": 1})
    assert a == b and json.loads(a) == {"a": {"x": "é", "y": [1, 2]}, "b": 1}
    assert domain.sha256_text(a) != domain.sha256_text(domain.canonical_json({"a": {"x": "é", "y": [2, 1]}, "b": 1}))


def test_plan_versions_covers_every_action():
    stored = {
        "same": StoredDoc("h1", 3),
        "edited": StoredDoc("h2", 1),
        "gone": StoredDoc("h3", 2),
        "back": StoredDoc("h4", 5, removed=True),
        "back-edited": StoredDoc("h5", 1, removed=True),
        "still-gone": StoredDoc("h6", 4, removed=True),
    }
    incoming = {"same": "h1", "edited": "h2b", "back": "h4", "back-edited": "h5b", "fresh": "h7"}
    plan = domain.plan_versions(stored, incoming)
    assert {k: (p.action, p.version) for k, p in plan.items()} == {
        "same": (Action.UNCHANGED, 3),
        "edited": (Action.CHANGED, 2),
        "gone": (Action.REMOVED, 2),
        "back": (Action.RESTORED, 5),
        "back-edited": (Action.CHANGED, 2),
        "fresh": (Action.NEW, 1),
    }
    assert "still-gone" not in plan  # removed once, not reported again
    assert domain.count_actions(plan) == {"new": 1, "changed": 2, "unchanged": 1, "restored": 1, "removed": 1}


def test_a_second_plan_with_the_same_content_creates_no_versions():
    first = domain.plan_versions({}, {"a": "h1", "b": "h2"})
    stored = {k: StoredDoc({"a": "h1", "b": "h2"}[k], p.version) for k, p in first.items()}
    second = domain.plan_versions(stored, {"a": "h1", "b": "h2"})
    assert {p.action for p in second.values()} == {Action.UNCHANGED}


# --- links ----------------------------------------------------------------------------------------


def _targets(links, kind, service=None):
    return sorted(x.target for x in links if x.kind == kind and (service is None or x.service == service))


def test_a_readme_links_the_endpoints_and_events_it_mentions():
    links = domain.doc_links(KINTELL_README, CATALOGUE)
    assert _targets(links, "endpoint") == [
        "GET /v1/imports/{import_id}", "GET /v1/sessions", "POST /v1/import/kintell-sessions"]
    assert _targets(links, "event") == ["kintell.rating.created.v1", "kintell.session.completed.v1"]
    assert _targets(links, "service") == ["kintell-connector"]


def test_a_readme_only_links_endpoints_and_events_of_its_own_service():
    doc = readme(PROFILE, "Calls GET /v1/sessions of kintell. Emits kintell.rating.created.v1 (not ours).\n"
                          "GET /v1/profiles/{id}\n")
    links = domain.doc_links(doc, CATALOGUE)
    assert _targets(links, "endpoint") == ["GET /v1/profiles/{profile_id}"]
    assert _targets(links, "event") == []


def test_an_adr_links_for_every_service_it_is_about():
    doc = adr("0002.md", "GET /v1/imports/{import_id} and kintell.session.completed.v1", "kintell-connector", "unified-profile")
    links = domain.doc_links(doc, CATALOGUE)
    assert _targets(links, "endpoint", "kintell-connector") == ["GET /v1/imports/{import_id}"]
    assert _targets(links, "endpoint", "unified-profile") == []
    # the event is produced by one and consumed by the other: linked for both
    assert _targets(links, "event", "kintell-connector") == _targets(links, "event", "unified-profile") == [
        "kintell.session.completed.v1"]


def test_an_adr_about_no_service_links_nothing():
    assert domain.doc_links(adr("0003.md", "GET /v1/sessions kintell.session.completed.v1"), CATALOGUE) == set()


def test_specs_link_everything_they_declare():
    openapi = SourceDoc(key="openapi:kintell-connector", kind="openapi", title="o", content="{}", services=("kintell-connector",))
    asyncapi = SourceDoc(key="asyncapi:docs-hub", kind="asyncapi", title="a", content="{}", services=("docs-hub",))
    assert _targets(domain.doc_links(openapi, CATALOGUE), "endpoint") == sorted(r.key for r in KINTELL.routes)
    assert _targets(domain.doc_links(asyncapi, CATALOGUE), "event") == [COVERAGE]


def test_links_of_an_unknown_service_are_dropped():
    doc = SourceDoc(key="x", kind="readme", title="x", content="GET /v1/sessions", services=("gone",))
    assert domain.doc_links(doc, CATALOGUE) == set()


# --- coverage -------------------------------------------------------------------------------------


def _coverage(docs):
    links = domain.compute_links(docs, CATALOGUE)
    return {c.service: c for c in domain.compute_coverage(CATALOGUE, links, {d.key: d.kind for d in docs})}


def test_coverage_counts_human_docs_per_service():
    cov = _coverage([KINTELL_README, PROFILE_README])
    k = cov["kintell-connector"]
    assert (k.endpoints_documented, k.endpoints_total, k.events_documented, k.events_total) == (3, 5, 2, 3)
    assert k.undocumented_endpoints == ("GET /v1/sessions/{session_id}", "POST /v1/webhooks/session")
    assert k.undocumented_events == ("kintell.session.scheduled.v1",)
    assert k.endpoint_coverage == pytest.approx(0.6) and k.event_coverage == pytest.approx(2 / 3)
    p = cov["unified-profile"]
    assert (p.endpoints_documented, p.endpoints_total, p.events_documented, p.events_total) == (3, 4, 2, 2)
    assert p.undocumented_endpoints == ("GET /v1/profiles",)


def test_specs_do_not_count_for_coverage():
    openapi = SourceDoc(key="openapi:kintell-connector", kind="openapi", title="o", content="{}", services=("kintell-connector",))
    assert _coverage([openapi])["kintell-connector"].endpoints_documented == 0


def test_a_runbook_can_cover_what_the_readme_misses():
    runbook = adr("kintell.md", "If POST /v1/webhooks/session fails ... kintell.session.scheduled.v1", "kintell-connector",
                  kind="runbook")
    k = _coverage([KINTELL_README, runbook])["kintell-connector"]
    assert (k.endpoints_documented, k.events_documented) == (4, 3)


def test_nothing_to_document_is_full_coverage_and_no_docs_is_zero():
    cov = _coverage([])
    assert cov["quiet"].endpoint_coverage == cov["quiet"].event_coverage == 1.0
    assert cov["api-gateway"].endpoint_coverage == 0.0
    assert cov["docs-hub"].events_total == 1 and cov["docs-hub"].event_coverage == 0.0


def test_totals_add_counts_and_do_not_average_ratios():
    items = [
        domain.ServiceCoverage("a", endpoints_total=1, endpoints_documented=1, events_total=0, events_documented=0),
        domain.ServiceCoverage("b", endpoints_total=9, endpoints_documented=0, events_total=2, events_documented=1),
    ]
    t = domain.totals(items)
    assert (t.endpoints_documented, t.endpoints_total, t.events_documented, t.events_total) == (1, 10, 1, 2)
    assert t.endpoint_coverage == pytest.approx(0.1)  # the mean of ratios would be 0.5
    assert t.overall == pytest.approx(2 / 12)
    assert domain.totals([]).overall == 1.0
    assert t.as_dict()["overall"] == round(2 / 12, 4) and t.as_dict()["overall_percent"] == 16.7
    assert items[1].as_dict()["events"] == {"total": 2, "documented": 1, "coverage": 0.5, "percent": 50.0, "undocumented": []}


# --- freshness and capability ---------------------------------------------------------------------


def test_a_human_doc_is_stale_when_its_spec_changed_after_it():
    assert domain.is_stale("readme", T0, T0 + timedelta(seconds=1))
    assert not domain.is_stale("readme", T0, T0)
    assert not domain.is_stale("readme", T0, None)
    assert not domain.is_stale("openapi", T0, T0 + timedelta(days=1))


WEBHOOK_ROUTE = Route("POST", "/v1/webhooks/session", tags=("kintell-webhooks",))


@pytest.mark.parametrize(
    ("term", "given", "expected"),
    [
        ("Webhooks", {"heading_texts": ["Webhooks: authentication"]}, True),  # a heading word, any case
        ("kintell-webhooks", {"routes": [WEBHOOK_ROUTE]}, True),  # an OpenAPI tag
        ("session", {"routes": [WEBHOOK_ROUTE]}, True),  # a literal path segment
        ("rating", {"events": ["kintell.rating.created.v1"]}, True),  # an event type segment
        ("v1", {"events": ["kintell.rating.created.v1"]}, False),  # the major version is not a capability
        ("id", {"routes": [Route("GET", "/x/{id}")]}, False),  # nor is a parameter name
        ("billing", {"routes": [WEBHOOK_ROUTE], "events": ["kintell.rating.created.v1"], "heading_texts": ["Webhooks"]}, False),
        ("  ", {"heading_texts": ["  "]}, False),
    ],
)
def test_capability_matching(term, given, expected):
    args = {"title": "kintell-connector", "heading_texts": [], "routes": [], "events": [], **given}
    assert domain.matches_capability(term, **args) is expected


def test_capability_matches_whole_words_of_the_title():
    assert domain.matches_capability("import", title="CSV import guide", heading_texts=[], routes=[], events=[])
    assert not domain.matches_capability("port", title="CSV import guide", heading_texts=[], routes=[], events=[])


# --- drift ----------------------------------------------------------------------------------------

DOCS = [KINTELL_README, PROFILE_README]


def drift(changed=(), **kw):
    return domain.drift_check(catalogue=CATALOGUE, docs=kw.pop("docs", DOCS),
                              changed=[ChangedFile(p, c) for p, c in changed], **kw)


def kinds(result):
    return sorted((f.kind, f.service, f.ref) for f in result.findings)


def test_an_api_change_without_a_readme_change_is_drift():
    result = drift([("services/kintell_connector/api.py", "modified")])
    [f] = result.findings
    assert (f.kind, f.severity, f.service, f.path) == (
        "spec_changed_without_doc", "error", "kintell-connector", "services/kintell_connector/README.md")
    assert "services/kintell_connector/api.py" in f.message
    assert not result.passed and result.counts() == {"error": 1, "warning": 0, "waived": 0}
    assert result.touched_services == ("kintell-connector",)


def test_an_api_change_with_its_readme_updated_passes():
    result = drift([("services/kintell_connector/api.py", "modified"), ("services/kintell_connector/README.md", "modified")])
    assert result.findings == () and result.passed


@pytest.mark.parametrize("path", ["services/kintell_connector/service.py", "services/kintell_connector/migrations/0002_x.sql"])
def test_service_declaration_and_migrations_are_spec_files(path):
    assert kinds(drift([(path, "added")])) == [("spec_changed_without_doc", "kintell-connector", path)]


@pytest.mark.parametrize("path", ["services/kintell_connector/domain.py", "services/kintell_connector/tests/test_x.py",
                                  "docs/CHASSIS.md", "README.md", "services/__init__.py"])
def test_other_files_are_not_spec_changes(path):
    assert drift([(path, "modified")]).findings == ()


def test_several_spec_files_of_one_service_are_one_finding():
    [f] = drift([("services/kintell_connector/api.py", "modified"), ("services/kintell_connector/service.py", "modified")]).findings
    assert f.ref == "services/kintell_connector/api.py, services/kintell_connector/service.py"


def test_a_service_without_a_readme_is_missing_its_doc():
    [f] = drift([("services/api_gateway/api.py", "modified")]).findings
    assert (f.kind, f.service, f.path) == ("missing_doc", "api-gateway", "services/api_gateway/README.md")


def test_a_new_service_with_its_readme_passes_and_without_it_fails():
    added = [("services/new_thing/service.py", "added"), ("services/new_thing/api.py", "added")]
    assert drift([*added, ("services/new_thing/README.md", "added")]).passed
    [f] = drift(added).findings
    assert (f.kind, f.service) == ("missing_doc", "new-thing")


def test_deleting_a_readme_of_a_living_service_is_drift_but_deleting_the_service_is_not():
    [f] = drift([("services/unified_profile/README.md", "deleted")]).findings
    assert (f.kind, f.service) == ("doc_deleted", "unified-profile")
    gone = [("services/unified_profile/README.md", "deleted"), ("services/unified_profile/service.py", "deleted"),
            ("services/unified_profile/api.py", "deleted")]
    assert drift(gone).findings == ()


def test_deleting_a_readme_while_changing_the_api_is_reported_once_as_deleted():
    result = drift([("services/unified_profile/README.md", "deleted"), ("services/unified_profile/api.py", "modified")])
    assert kinds(result) == [("doc_deleted", "unified-profile", None)]


def test_a_contract_change_concerns_owners_and_producers_not_consumers():
    result = drift([("libs/contracts/summit_contracts/events/kintell.py", "modified")])
    assert kinds(result) == [("spec_changed_without_doc", "kintell-connector", "libs/contracts/summit_contracts/events/kintell.py")]
    assert "unified-profile" not in result.touched_services


def test_a_contract_change_of_an_owner_without_routes_still_needs_its_readme():
    result = drift([("libs/contracts/summit_contracts/events/governance.py", "modified")])
    assert kinds(result) == [("missing_doc", "docs-hub", "libs/contracts/summit_contracts/events/governance.py")]


def test_event_spec_changes_narrow_a_contract_module_change():
    changed = [("libs/contracts/summit_contracts/events/governance.py", "modified")]
    # only the proposal event changed: its owner (schema-council) is not a service here; docs-hub is not concerned
    result = drift(changed, spec_changes=[SpecChange("event", "governance.proposal.submitted.v1", "modified")])
    assert result.findings == ()


def test_an_event_spec_change_needs_the_producers_readme():
    result = drift([], spec_changes=[SpecChange("event", PROFILE_UPDATED, "modified")])
    assert kinds(result) == [("spec_changed_without_doc", "unified-profile", f"modified event {PROFILE_UPDATED}")]


def test_a_dead_endpoint_in_a_touched_readme_is_reported():
    doc = readme(KINTELL, "# k\n\nGET /v1/sessions\nDELETE /v1/sessions/{id}\nGET /v1/old-reports\n")
    result = drift([("services/kintell_connector/domain.py", "modified")], docs=[doc])
    assert kinds(result) == [
        ("dead_endpoint_reference", "kintell-connector", "DELETE /v1/sessions/{id}"),
        ("dead_endpoint_reference", "kintell-connector", "GET /v1/old-reports"),
    ]
    assert "line 4" in result.findings[0].message


def test_dead_references_of_untouched_services_only_with_scope_all():
    doc = readme(KINTELL, "GET /v1/old-reports")
    assert drift([("services/unified_profile/domain.py", "modified")], docs=[doc, PROFILE_README]).findings == ()
    result = drift([], docs=[doc, PROFILE_README], scope="all")
    assert kinds(result) == [("dead_endpoint_reference", "kintell-connector", "GET /v1/old-reports")]


def test_chassis_routes_and_other_services_routes_are_not_dead():
    doc = readme(KINTELL, "GET /healthz, GET /readyz, GET /metrics, GET /openapi.json, GET /asyncapi.json\n"
                          "GET /v1/dlq and POST /v1/dlq/42/replay\nIt feeds GET /v1/profiles/{id} and GET /api/anything/here")
    assert drift([], docs=[doc], scope="all").findings == ()


def test_an_unregistered_event_in_a_doc_is_reported():
    doc = readme(PROFILE, "Consumes kintell.session.cancelled.v1 and kintell.session.completed.v1")
    result = drift([("services/unified_profile/handlers.py", "modified")], docs=[doc])
    assert kinds(result) == [("unregistered_event_reference", "unified-profile", "kintell.session.cancelled.v1")]


def test_removing_an_endpoint_the_readme_still_documents_is_a_dead_reference():
    spec = [SpecChange("endpoint", "GET /v1/sessions/{session_id}", "removed", service="kintell-connector")]
    doc = readme(KINTELL, "GET /v1/sessions/{id}")
    result = drift([("services/kintell_connector/api.py", "modified")], docs=[doc], spec_changes=spec)
    assert ("dead_endpoint_reference", "kintell-connector", "GET /v1/sessions/{session_id}") in kinds(result)
    # the README is updated in the same commit: it is trusted to have dropped it
    updated = drift([("services/kintell_connector/api.py", "modified"), ("services/kintell_connector/README.md", "modified")],
                    docs=[doc], spec_changes=spec)
    assert updated.findings == ()


def test_an_added_endpoint_the_readme_does_not_mention_is_a_warning():
    spec = [SpecChange("endpoint", "POST /v1/sessions/{id}/notes", "added", service="kintell-connector")]
    result = drift([], spec_changes=spec)
    assert kinds(result) == [
        ("spec_changed_without_doc", "kintell-connector", "added endpoint POST /v1/sessions/{id}/notes"),
        ("undocumented_endpoint", "kintell-connector", "POST /v1/sessions/{id}/notes"),
    ]
    assert [f.severity for f in result.findings] == ["error", "warning"]  # errors first


def test_removed_and_added_events_against_the_readme():
    removed = drift([], spec_changes=[SpecChange("event", "kintell.rating.created.v1", "removed")])
    assert ("unregistered_event_reference", "kintell-connector", "kintell.rating.created.v1") in kinds(removed)
    added = drift([], spec_changes=[SpecChange("event", "kintell.session.scheduled.v1", "added", service="kintell-connector")])
    assert ("undocumented_event", "kintell-connector", "kintell.session.scheduled.v1") in kinds(added)


def test_the_commit_trailer_waives_spec_drift_but_not_dead_references():
    doc = readme(KINTELL, "GET /v1/old-reports")
    message = "Refactor the importer\n\nNo behaviour change.\n\nDocs-Drift: refactor\n"
    result = drift([("services/kintell_connector/api.py", "modified")], docs=[doc], message=message)
    by_kind = {f.kind: f for f in result.findings}
    assert by_kind["spec_changed_without_doc"].waived and "trailer" in by_kind["spec_changed_without_doc"].waived_by
    assert not by_kind["dead_endpoint_reference"].waived
    assert not result.passed
    assert result.counts() == {"error": 1, "warning": 0, "waived": 1}


def test_a_trailer_must_be_its_own_line():
    result = drift([("services/kintell_connector/api.py", "modified")], message="mention Docs-Drift: skip inline")
    assert not result.findings[0].waived


@pytest.mark.parametrize(
    "waiver",
    [Waiver(service="kintell-connector"), Waiver(kind="spec_changed_without_doc"),
     Waiver(path="services/kintell_*/README.md", reason="moving files")],
)
def test_allowlist_entries_waive_what_they_match(waiver):
    result = drift([("services/kintell_connector/api.py", "modified")], waivers=[waiver])
    assert result.passed and result.findings[0].waived and result.findings[0].waived_by.startswith("allowlist")


def test_allowlist_entries_that_do_not_match_waive_nothing():
    waivers = [Waiver(service="unified-profile"), Waiver(kind="doc_deleted"), Waiver(path="docs/*")]
    assert not drift([("services/kintell_connector/api.py", "modified")], waivers=waivers).passed


def test_a_changed_adr_is_checked_even_when_no_service_is_touched():
    record = adr("0004.md", "We removed GET /v1/legacy and kintell.legacy.thing.v1")
    result = drift([("docs/adr/0004.md", "added")], docs=[*DOCS, record])
    assert kinds(result) == [("dead_endpoint_reference", None, "GET /v1/legacy"),
                             ("unregistered_event_reference", None, "kintell.legacy.thing.v1")]


def test_a_deleted_doc_is_not_checked_for_content():
    record = adr("0005.md", "GET /v1/legacy")
    assert drift([("docs/adr/0005.md", "deleted")], docs=[record]).findings == ()


def test_an_empty_diff_passes():
    result = drift([])
    assert result.passed and result.findings == () and result.touched_services == ()


# --- rendering ------------------------------------------------------------------------------------


def test_shift_headings_leaves_code_alone_and_caps_at_six():
    text = "# A\n```\n# code\n```\n##### E\n"
    assert domain.shift_headings(text, 2) == "### A\n```\n# code\n```\n###### E"


def test_spec_rendering_lists_endpoints_and_events():
    openapi = json.dumps({"paths": {"/v1/x": {"get": {"summary": "Get | x"}, "post": {}}}})
    table = domain.render_spec_markdown("openapi", openapi)
    assert "| GET | `/v1/x` | Get \\| x |" in table and "| POST | `/v1/x` |  |" in table
    asyncapi = json.dumps({
        "operations": {"send_a": {"action": "send", "channel": {"$ref": "#/channels/a_b_c_v1"}, "summary": "S"}},
        "components": {"messages": {"a_b_c_v1": {"name": "a.b.c.v1"}}},
    })
    assert "| send | `a.b.c.v1` | S |" in domain.render_spec_markdown("asyncapi", asyncapi)
    assert "no endpoints" in domain.render_spec_markdown("openapi", "{}")
    assert "not valid JSON" in domain.render_spec_markdown("openapi", "{")


def test_a_bundle_has_a_heading_and_a_freshness_line_per_document():
    entries = [
        domain.BundleEntry(title="kintell-connector", kind="readme", services=("kintell-connector",),
                           path="services/kintell_connector/README.md", version=2, sha256="ab" * 32, last_changed_at=T0,
                           last_verified_at=T0, content="# kintell-connector\n\n## Events\ntext", stale=True),
        domain.BundleEntry(title="OpenAPI: x", kind="openapi", services=("x",), path=None, version=1, sha256="cd" * 32,
                           last_changed_at=T0, last_verified_at=T0, content=json.dumps({"paths": {}})),
    ]
    out = domain.render_bundle(entries)
    assert out.startswith("# Summit docs\n\n2 document(s).")
    assert "## kintell-connector\n" in out and "### kintell-connector\n" in out and "#### Events" in out
    assert "version 2" in out and "sha256 `abababababab`" in out and "stale" in out
    assert "## OpenAPI: x" in out and "openapi of x" in out


# --- the catalogue as data ------------------------------------------------------------------------


def test_catalogue_round_trips_through_json():
    again = domain.Catalogue.from_json(json.loads(json.dumps(CATALOGUE.to_json())))
    assert again == CATALOGUE


def test_catalogue_from_an_export():
    exported = {
        "events": [{"type": "kintell.session.completed.v1", "owner": "kintell-connector"},
                   {"type": "orchestration.profile.updated.v1", "owner": "unified-profile"}],
        "services": [{
            "name": "kintell-connector", "description": "d", "consumes": [], "produces": ["kintell.session.completed.v1"],
            "http": [{"path": "/v1/sessions/{session_id}", "methods": ["GET"], "name": "get_session"},
                     {"path": "/api/{path}", "methods": ["GET", "post"], "name": "proxy"}],
        }],
    }
    details = {"kintell-connector": {("GET", "/api/{path}"): {"template": "/api/{path:path}", "tags": ["t"], "summary": "S"}}}
    cat = domain.catalogue_from_export(exported, {}, details, {"kintell.session.completed.v1": "summit_contracts.events.kintell"})
    [svc] = cat.services
    assert svc.package == "kintell_connector"
    assert [r.key for r in svc.routes] == ["GET /api/{path}", "POST /api/{path}", "GET /v1/sessions/{session_id}"]
    assert svc.routes[0].template == "/api/{path:path}" and svc.routes[0].tags == ("t",)
    assert svc.owns == ("kintell.session.completed.v1",) and svc.events == ("kintell.session.completed.v1",)
    assert cat.event_types == {"kintell.session.completed.v1", "orchestration.profile.updated.v1"}
    assert cat.event_modules == {"kintell.session.completed.v1": "libs/contracts/summit_contracts/events/kintell.py"}


def test_every_finding_kind_has_a_severity():
    assert set(domain.SEVERITY) == set(domain.FindingKind)
    assert KINTELL_EVENTS[0] in CATALOGUE.event_types

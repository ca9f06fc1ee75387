"""Property tests of domain.py invariants: versioning follows hash changes exactly and is
idempotent; a route is found from any spelling of its parameters and from concrete values;
every way of writing a mention is recognised; coverage numbers stay within their bounds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.docs_hub import domain
from services.docs_hub.domain import Action, Route, StoredDoc

keys = st.sampled_from(["a", "b", "c", "d", "e"])
contents = st.sampled_from(["one", "two", "three"])
scans = st.lists(st.dictionaries(keys, contents, max_size=5), min_size=1, max_size=8)


def apply(stored: dict[str, StoredDoc], incoming: dict[str, str]) -> tuple[dict[str, StoredDoc], dict]:
    hashes = {k: domain.sha256_text(v) for k, v in incoming.items()}
    plan = domain.plan_versions(stored, hashes)
    after = dict(stored)
    for key, p in plan.items():
        if p.action is Action.REMOVED:
            after[key] = StoredDoc(stored[key].sha256, stored[key].version, removed=True)
        else:
            after[key] = StoredDoc(hashes[key], p.version)
    return after, plan


@given(scans)
@settings(max_examples=200)
def test_a_version_is_created_exactly_when_the_content_changes(sequence):
    stored: dict[str, StoredDoc] = {}
    last_content: dict[str, str] = {}
    expected_versions: dict[str, int] = {}
    for incoming in sequence:
        stored, plan = apply(stored, incoming)
        for key, content in incoming.items():
            if key not in last_content:
                expected_versions[key] = 1
                assert plan[key].action is Action.NEW
            elif last_content[key] != content:
                expected_versions[key] += 1
                assert plan[key].action is Action.CHANGED
            else:
                assert plan[key].action in (Action.UNCHANGED, Action.RESTORED)
            last_content[key] = content
        for key in stored:
            assert stored[key].version == expected_versions[key]
            assert stored[key].removed == (key not in incoming)


@given(scans)
def test_refreshing_the_same_content_twice_changes_nothing_the_second_time(sequence):
    stored: dict[str, StoredDoc] = {}
    for incoming in sequence:
        stored, _ = apply(stored, incoming)
    again, plan = apply(stored, sequence[-1])
    assert again == stored
    assert all(p.action is Action.UNCHANGED for p in plan.values())


# --- routes and mentions --------------------------------------------------------------------------

literal = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
param_name = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
template_segments = st.lists(st.one_of(literal, param_name.map(lambda n: "{" + n + "}")), min_size=1, max_size=5)


def spell(segment: str, style: int, name: str) -> str:
    """Another spelling of a parameter segment (literals unchanged)."""
    if not segment.startswith("{"):
        return segment
    return ["{" + name + "}", ":" + name, "<" + name + ">", "{" + name + ":int}"][style]


@given(template_segments, st.data())
def test_a_route_is_found_from_any_parameter_spelling(segments, data):
    route = Route("GET", "/" + "/".join(segments))
    written = "/" + "/".join(spell(s, data.draw(st.integers(0, 3)), data.draw(param_name)) for s in segments)
    found = domain.best_routes("GET", written, [route, Route("POST", route.path)])
    assert found == [route]
    assert domain.normalise_path(written) == domain.normalise_path(route.path)


@given(template_segments, st.data())
def test_a_route_is_found_from_concrete_values(segments, data):
    route = Route("PUT", "/" + "/".join(segments))
    concrete = "/" + "/".join(s if not s.startswith("{") else data.draw(st.from_regex(r"[A-Z0-9][A-Za-z0-9-]{0,6}", fullmatch=True))
                              for s in segments)
    assert domain.best_routes("PUT", concrete, [route]) == [route]


@given(template_segments)
def test_the_literal_route_beats_a_parameter_route_for_its_own_path(segments):
    literal_route = Route("GET", "/" + "/".join(s if not s.startswith("{") else "fixed" for s in segments))
    param_route = Route("GET", "/" + "/".join(segments))
    found = domain.best_routes("GET", literal_route.path, [param_route, literal_route])
    assert literal_route in found
    if param_route.path != literal_route.path:
        assert param_route not in found


@given(st.text(max_size=40))
def test_normalising_is_a_fixed_point(path):
    once = domain.normalise_path(path)
    assert domain.normalise_path(once) == once


FORMS = [
    "{m} {p}",
    "`{m} {p}`",
    "| {m} | `{p}` | what it does |",
    "- **{m}** {p}: what it does",
    "See {m} {p}.",
    "{m}: `{p}?limit=5`",
]


@given(st.sampled_from(domain.HTTP_METHODS), template_segments, st.sampled_from(FORMS), st.text(
    st.characters(codec="ascii", categories=["L", "Zs"]), max_size=20))
def test_every_documented_form_of_a_mention_is_recognised(method, segments, form, prose):
    path = "/" + "/".join(segments)
    text = f"{prose}\n" + form.format(m=method, p=path) + f"\n{prose}"
    assert domain.EndpointMention(method, path, 2) in domain.endpoint_mentions(text)


@given(st.lists(st.sampled_from([
    "kintell.session.completed.v1", "orchestration.journey.milestone.reached.v3", "q2q.outcome.scored.v12"]), min_size=1),
    st.sampled_from([" ", ", ", "`", "\n", " (", "; "]))
def test_event_types_are_found_whatever_separates_them(types, sep):
    text = sep + sep.join(types) + sep + "."
    assert domain.event_mentions(text) == set(types)


# --- coverage -------------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=50)


@st.composite
def coverages(draw):
    items = []
    for i in range(draw(st.integers(0, 6))):
        et, ev = draw(counts), draw(counts)
        items.append(domain.ServiceCoverage(f"s{i}", endpoints_total=et, endpoints_documented=draw(st.integers(0, et)),
                                            events_total=ev, events_documented=draw(st.integers(0, ev))))
    return items


@given(coverages())
def test_coverage_ratios_stay_in_bounds_and_totals_add_up(items):
    t = domain.totals(items)
    assert t.endpoints_total == sum(c.endpoints_total for c in items)
    assert t.events_documented == sum(c.events_documented for c in items)
    for value in (t.endpoint_coverage, t.event_coverage, t.overall, *(c.endpoint_coverage for c in items)):
        assert 0.0 <= value <= 1.0
    # the overall figure is a weighted mean of the two, so it lies between them
    low, high = sorted((t.endpoint_coverage, t.event_coverage))
    if t.endpoints_total and t.events_total:
        assert low - 1e-12 <= t.overall <= high + 1e-12

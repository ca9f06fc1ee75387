"""Property tests for domain.py invariants: validating canonical values round-trips every kind,
normalisers are fixed points, derived ids depend on the fact and not on its spelling, the CSV
parser accounts for every row and never crashes, and planning is idempotent (a re-import of
anything creates nothing)."""

from __future__ import annotations

import csv
import dataclasses
import io
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.buddy_service import domain
from services.buddy_service.domain import (
    CHECKINS,
    EVENTS,
    MATCHES,
    Activity,
    Checkin,
    Context,
    Feedback,
    FieldError,
    ImportRejected,
    Match,
    Outcome,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)
CTX = Context(now=NOW)
ID_CHARS = st.characters(codec="ascii", categories=["L", "N"], include_characters="-_.")
ids = st.text(ID_CHARS, min_size=1, max_size=30)
zones = st.sampled_from([UTC, ZoneInfo("Europe/Oslo"), timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))])
instants = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2029, 12, 1), timezones=zones).map(
    lambda d: d.astimezone(UTC))
# Free text as it is stored: NFC, trimmed, not empty (clean() applies exactly that).
texts = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"], include_characters="\n"), min_size=1, max_size=60).map(
    lambda t: unicodedata.normalize("NFC", t).strip()).filter(bool)
categories = st.one_of(
    st.sampled_from(sorted(set(domain._CATEGORY_SYNONYMS.values()))),
    st.text(st.characters(codec="ascii", categories=["Ll", "N"]), min_size=1, max_size=20).filter(
        lambda s: any(c.isalpha() for c in s)).map(domain.normalise_category),
)
scores = st.none() | st.integers(1, 5)


def matches(match_ids=ids):
    return st.builds(Match, match_id=match_ids, participant_id=ids.map(lambda s: "P" + s), buddy_id=ids.map(lambda s: "B" + s),
                     matched_at=instants, program=st.none() | texts.map(lambda t: t[:100].strip() or "p"))


activities = st.builds(Activity, event_id=ids, match_id=ids, category=categories, occurred_at=instants,
                       duration_minutes=st.none() | st.integers(0, 1440), participant_id=st.none() | ids)
checkins = st.builds(Checkin, checkin_id=ids, match_id=ids, completed_at=instants, mood=scores, notes=st.none() | texts,
                     participant_id=st.none() | ids)
feedbacks = st.builds(Feedback, feedback_id=ids, match_id=ids, from_role=st.sampled_from(domain.ROLES), submitted_at=instants,
                      rating=scores, text=st.none() | texts, participant_id=st.none() | ids).filter(
    lambda f: f.rating is not None or f.text is not None)
records = st.one_of(matches(), activities, checkins, feedbacks)


@settings(deadline=None)
@given(records)
def test_validating_canonical_values_round_trips(record):
    kind = domain.kind_of(record)
    assert domain.validate(kind, domain.canonical_values(record), CTX) == record


@settings(deadline=None)
@given(st.lists(st.one_of(matches(), activities, checkins, feedbacks), min_size=1, max_size=8).map(
    lambda rs: [r for r in rs if domain.kind_of(r) == domain.kind_of(rs[0])]), st.sampled_from([",", ";", "\t"]))
def test_a_csv_written_from_records_parses_back_to_them(rows, delimiter):
    kind = domain.kind_of(rows[0])
    spec = domain.SPECS[kind]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(spec.fields)
    for record in rows:
        values = domain.canonical_values(record)
        writer.writerow([values.get(f, "") for f in spec.fields])
    parsed = domain.parse_csv(kind, out.getvalue(), CTX)
    assert parsed.errors == ()
    assert [r for _, _, r in parsed.items] == rows


@settings(deadline=None)
@given(st.text(max_size=40))
def test_category_normalisation_is_a_fixed_point(raw):
    try:
        once = domain.normalise_category(raw)
    except FieldError:
        return
    assert domain.normalise_category(once) == once
    assert once == once.strip("_") and " " not in once


@settings(deadline=None)
@given(instants, zones)
def test_a_datetime_in_any_offset_parses_to_the_same_instant(instant, zone):
    assert domain.parse_datetime(instant.astimezone(zone).isoformat()) == instant
    assert domain.parse_datetime(domain.parse_datetime(instant.isoformat()).isoformat()) == instant


@settings(deadline=None)
@given(ids, categories, instants, zones, st.sampled_from(["", " ", "\u00a0"]))
def test_derived_event_ids_depend_on_the_fact_not_its_spelling(match_id, category, instant, zone, pad):
    plain = domain.validate(EVENTS, {"match_id": match_id, "category": category, "occurred_at": instant.isoformat()}, CTX)
    spelled = domain.validate(EVENTS, {"match_id": pad + match_id, "category": category.upper().replace("_", " ") + pad,
                                       "occurred_at": instant.astimezone(zone).isoformat()}, CTX)
    assert plain.event_id == spelled.event_id
    later = domain.validate(EVENTS, {"match_id": match_id, "category": category,
                                     "occurred_at": (instant + timedelta(minutes=1)).isoformat()}, CTX)
    assert later.event_id != plain.event_id


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(domain.KINDS), st.lists(
    st.text(st.sampled_from(list('ab,;"\n\r 1-:TZ')), max_size=12), min_size=0, max_size=6))
def test_the_csv_parser_accounts_for_every_row_and_never_crashes(kind, lines):
    header = ",".join(domain.SPECS[kind].required)
    text = header + "\n" + "\n".join(lines)
    try:
        parsed = domain.parse_csv(kind, text, CTX)
    except ImportRejected:
        return
    assert parsed.rows_total == len(parsed.items) + len(parsed.rejected)
    positions = [line for line, _, _ in parsed.items] + [line for line, _ in parsed.rejected]
    assert len(set(positions)) == len(positions) and all(p >= 2 for p in positions)
    assert {e.line for e in parsed.errors} == {line for line, _ in parsed.rejected}


def _replan_is_a_no_op(kind, items, matches_by_id=None):
    first = domain.plan(kind, items, stored={}, matches=matches_by_id)
    created = {s.record_id: s.record for s in first if s.outcome is Outcome.CREATED}
    # Each id is created at most once, and the first valid occurrence wins.
    assert len(created) == sum(1 for s in first if s.outcome is Outcome.CREATED)
    second = domain.plan(kind, items, stored=created, matches=matches_by_id)
    expected = [Outcome.DUPLICATE if s.outcome is Outcome.CREATED else s.outcome for s in first]
    assert [s.outcome for s in second] == expected


@settings(deadline=None)
@given(st.lists(matches(st.sampled_from(["M-1", "M-2", "M-3"])), max_size=10))
def test_planning_matches_twice_creates_nothing_the_second_time(rows):
    _replan_is_a_no_op(MATCHES, [(n + 2, None, r) for n, r in enumerate(rows)])


@settings(deadline=None)
@given(st.lists(matches(st.sampled_from(["M-1", "M-2"])), min_size=1, max_size=2, unique_by=lambda m: m.match_id),
       st.lists(st.one_of(checkins, feedbacks), max_size=10), st.sampled_from(["M-1", "M-2", "M-9"]))
def test_planning_dependents_twice_creates_nothing_the_second_time(known, rows, match_id):
    by_id = {m.match_id: m for m in known}
    kind = domain.kind_of(rows[0]) if rows else CHECKINS
    same_kind = [r for r in rows if domain.kind_of(r) == kind]
    # Few distinct ids, so repeats and conflicts happen; the match is one of two known or unknown.
    id_field = domain.SPECS[kind].id_field
    items = [(None, n, dataclasses.replace(r, match_id=match_id, participant_id=None, **{id_field: f"X-{n % 3}"}))
             for n, r in enumerate(same_kind)]
    _replan_is_a_no_op(kind, items, by_id)
    for step in domain.plan(kind, items, stored={}, matches=by_id):
        if step.outcome is not Outcome.REJECTED:
            assert step.record.participant_id == by_id[match_id].participant_id
        elif match_id not in by_id:
            assert step.errors[0].field == "match_id"

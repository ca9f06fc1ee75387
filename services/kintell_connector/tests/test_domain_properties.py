"""Property tests for domain.py invariants: normalising is a fixed point, canonical values
round-trip, the CSV parser accounts for every row and never crashes, planning is idempotent,
and a signature verifies exactly its own (timestamp, tenant, body)."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.kintell_connector import domain
from services.kintell_connector.domain import CANONICAL_PROFILE, CsvRejected, Decision, FieldError, RowInvalid
from services.kintell_connector.profiles import load_profiles

DEFAULT = load_profiles()["default"]
LEGACY = load_profiles()["kintell_legacy"]

ID_CHARS = st.characters(codec="ascii", categories=["L", "N"], include_characters="-_")
ids = st.text(ID_CHARS, min_size=1, max_size=30)
zones = st.sampled_from([UTC, ZoneInfo("Europe/Oslo"), timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))])
instants = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=zones)
# Text as it arrives after NFC normalisation (clean() applies NFC).
words = st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs"], exclude_characters=";"), min_size=1, max_size=20).map(
    lambda t: unicodedata.normalize("NFC", t))


def decorate(value: str, data) -> str:
    """The same value as a messy export might spell it: case, padding, '_' or '-' for spaces."""
    value = data.draw(st.sampled_from([value, value.upper(), value.lower(), value.title()]))
    value = value.replace(" ", data.draw(st.sampled_from([" ", "_", "-", "  "])))
    return data.draw(st.sampled_from(["", " ", "\t", "\u00a0"])) + value + data.draw(st.sampled_from(["", " ", "  "]))


@given(st.data())
def test_session_type_normalisation_is_a_fixed_point(data):
    raw = decorate(data.draw(st.sampled_from(sorted(domain._SESSION_TYPE_SYNONYMS))), data)
    once = domain.normalise_session_type(raw)
    assert once in domain.SESSION_TYPES
    assert domain.normalise_session_type(once) == once


@given(st.data())
def test_status_normalisation_is_a_fixed_point(data):
    raw = decorate(data.draw(st.sampled_from(sorted(domain._STATUS_SYNONYMS))), data)
    once = domain.normalise_status(raw)
    assert once in domain.STATUSES
    assert domain.normalise_status(once) == once


@given(st.data())
def test_language_normalisation_is_a_fixed_point(data):
    raw = data.draw(st.sampled_from(sorted(domain._LANGUAGE_LOOKUP)))
    once = domain.normalise_language(decorate(raw, data))
    assert once in domain._LANGUAGES and len(once) == 2
    assert domain.normalise_language(once) == once


@given(st.sampled_from(domain.CEFR_LEVELS), st.data())
def test_level_normalisation_is_a_fixed_point(level, data):
    once = domain.normalise_level(decorate(level, data))
    assert once == level and domain.normalise_level(once) == once


@given(st.text(max_size=40))
def test_normalisers_answer_a_canonical_value_or_a_field_error(text):
    for normalise, allowed in [
        (domain.normalise_session_type, domain.SESSION_TYPES),
        (domain.normalise_status, domain.STATUSES),
        (domain.normalise_language, domain._LANGUAGES),
        (domain.normalise_level, domain.CEFR_LEVELS),
    ]:
        try:
            assert normalise(text) in allowed
        except FieldError:
            pass
    for parse in (domain.parse_duration, domain.parse_score, lambda t: domain.parse_datetime(t, DEFAULT.datetime_formats)):
        try:
            parse(text)
        except FieldError:
            pass


@given(instants)
def test_iso_datetimes_round_trip_to_the_same_instant_in_utc(moment):
    parsed = domain.parse_datetime(moment.isoformat())
    # Compared in UTC: PEP 495 makes inter-zone == False for times in a DST fold.
    assert parsed == moment.astimezone(UTC) and parsed.tzinfo == UTC
    assert domain.parse_datetime(parsed.isoformat()) == parsed


@given(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)))
def test_day_first_datetimes_round_trip(naive):
    naive = naive.replace(second=0, microsecond=0)
    assert domain.parse_datetime(naive.strftime("%d/%m/%Y %H:%M"), DEFAULT.datetime_formats) == naive.replace(tzinfo=UTC)


@given(st.integers(0, domain.MAX_DURATION_MINUTES))
def test_durations_round_trip(minutes):
    assert domain.parse_duration(str(minutes)) == minutes
    assert domain.parse_duration(f"{minutes // 60}:{minutes % 60:02d}") == minutes


@given(instants, st.integers(0, 24 * 3600))
def test_duration_between_is_the_rounded_difference(start, seconds):
    assert domain.duration_between(start, start + timedelta(seconds=seconds)) == round(seconds / 60 + 1e-9)


@st.composite
def records(draw, session_id=None):
    session_type = draw(st.sampled_from(domain.SESSION_TYPES))
    status = draw(st.sampled_from(domain.STATUSES))
    start = draw(instants).astimezone(UTC)
    duration = draw(st.integers(0, domain.MAX_DURATION_MINUTES)) if status == "completed" else draw(
        st.none() | st.integers(0, domain.MAX_DURATION_MINUTES))
    language = draw(st.sampled_from(sorted(domain._LANGUAGES))) if session_type == "language" else draw(
        st.none() | st.sampled_from(sorted(domain._LANGUAGES)))
    sid = session_id or draw(ids)
    participant, volunteer = draw(ids), draw(ids)
    ratings = []
    if status == "completed":
        rated_at = draw(instants).astimezone(UTC)
        for role, rater in (("participant", participant), ("volunteer", volunteer)):
            if draw(st.booleans()):
                comment = draw(st.none() | words.map(str.strip).filter(bool))
                ratings.append(domain.Rating(domain.rating_id(sid, role), sid, role, rater, draw(st.integers(1, 5)), comment, rated_at))
    topics = tuple(dict.fromkeys(t.strip() for t in draw(st.lists(words, max_size=3)) if t.strip()))
    notes = draw(st.none() | words.map(str.strip).filter(bool))
    return domain.SessionRecord(
        session_id=sid, session_type=session_type, status=status, participant_id=participant, volunteer_id=volunteer,
        start=start, duration_minutes=duration, language=language, level=draw(st.none() | st.sampled_from(domain.CEFR_LEVELS)),
        topics=topics, notes=notes, ratings=tuple(ratings),
    )


@given(records())
def test_canonical_values_round_trip(record):
    assert domain.normalise_row(domain.canonical_values(record), CANONICAL_PROFILE) == record


@given(records(), st.data())
def test_normalising_a_messy_row_twice_is_a_fixed_point(record, data):
    messy = {k: decorate(v, data) if k in ("session_type", "status", "level", "language") else f" {v} "
             for k, v in domain.canonical_values(record).items()}
    once = domain.normalise_row(messy, CANONICAL_PROFILE)
    assert domain.normalise_row(domain.canonical_values(once), CANONICAL_PROFILE) == once
    assert once == record


@settings(max_examples=50)
@given(st.lists(records(), max_size=8))
def test_a_written_csv_parses_back_to_the_same_records(batch):
    columns = {canonical: names[0] for canonical, names in DEFAULT.columns.items()}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns.values())
    for record in batch:
        values = domain.canonical_values(record)
        writer.writerow([values.get(canonical, "") for canonical in columns])
    parsed = domain.parse_csv(out.getvalue(), DEFAULT)
    assert parsed.errors == ()
    assert [line for line, _ in parsed.records] == list(range(2, len(batch) + 2))
    # The CSV has one rated_at column, so ratings of a row share a time.
    assert [r for _, r in parsed.records] == batch


@given(st.text(max_size=300))
def test_the_csv_parser_accounts_for_every_row_and_never_crashes(text):
    for profile in (DEFAULT, LEGACY):
        try:
            parsed = domain.parse_csv(text, profile)
        except CsvRejected:
            continue
        assert parsed.rows_total == len(parsed.records) + len(parsed.rejected_lines)
        assert {e.line for e in parsed.errors} == set(parsed.rejected_lines)


@given(st.lists(st.sampled_from(["A", "B", "C"]), max_size=10), st.data())
def test_planning_is_idempotent(session_ids, data):
    batch = [(n, data.draw(records(session_id=sid))) for n, sid in enumerate(session_ids, start=2)]
    stored = data.draw(st.dictionaries(st.sampled_from(["A", "B", "C"]), st.sampled_from(domain.STATUSES)))
    steps = domain.plan_sessions(batch, stored)
    assert len(steps) == len(batch)
    for sid in set(session_ids):
        decisions = [s.decision for s in steps if s.record.session_id == sid]
        assert decisions.count(Decision.INSERT) <= 1 and decisions.count(Decision.ADVANCE) <= 1
    final = dict(stored)
    for step in steps:
        if step.decision in (Decision.INSERT, Decision.ADVANCE):
            final[step.record.session_id] = step.record.status
    # Replaying the same rows against the state they produced changes nothing.
    assert all(s.decision in (Decision.SAME, Decision.STALE, Decision.CONFLICT) for s in domain.plan_sessions(batch, final))


@given(st.text(min_size=1, max_size=40), st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True),
       st.binary(max_size=200), st.integers(0, 2**33))
def test_a_signature_verifies_exactly_its_own_message(secret, tenant, body, at):
    timestamp = str(at)
    signature = domain.sign(secret, timestamp, tenant, body)
    domain.verify_signature(secret=secret, tenant=tenant, timestamp=timestamp, signature=signature, body=body, now=at)
    tampered = body + b" "
    try:
        domain.verify_signature(secret=secret, tenant=tenant, timestamp=timestamp, signature=signature, body=tampered, now=at)
    except domain.SignatureError:
        pass
    else:
        raise AssertionError("a changed body verified")


@given(records())
def test_invalid_rows_never_half_succeed(record):
    values = domain.canonical_values(record)
    values["level"] = "Z9"
    try:
        domain.normalise_row(values, CANONICAL_PROFILE)
    except RowInvalid as exc:
        assert [e.field for e in exc.errors] == ["level"]
    else:
        raise AssertionError("an invalid level was accepted")

"""Unit tests for domain.py: value normalisers, row validation, CSV parsing, mapping profiles,
import planning, event payloads and the webhook signature. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.kintell_connector import domain
from services.kintell_connector.domain import (
    CANONICAL_PROFILE,
    CsvRejected,
    Decision,
    FieldError,
    MappingProfile,
    RowInvalid,
)
from services.kintell_connector.profiles import load_profiles
from summit_contracts import REGISTRY

DEFAULT = load_profiles()["default"]
LEGACY = load_profiles()["kintell_legacy"]
HEADER = "session_id,session_type,participant_id,volunteer_id,start_time,end_time,duration_minutes,language,level,status,participant_rating"


def row(**overrides) -> dict[str, str]:
    values = {
        "session_id": "S-1", "session_type": "language", "participant_id": "P-1", "volunteer_id": "V-1",
        "start": "2024-03-04T14:00:00Z", "duration_minutes": "45", "language": "uk", "level": "B1", "status": "completed",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def errors_of(values, profile=CANONICAL_PROFILE) -> dict[str | None, str]:
    with pytest.raises(RowInvalid) as exc:
        domain.normalise_row(values, profile, line=7)
    assert all(e.line == 7 for e in exc.value.errors)
    return {e.field: e.reason for e in exc.value.errors}


# --- value normalisers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("language", "language"), ("lang", "language"), ("Language Session", "language"), (" LANGUAGE ", "language"),
     ("language_session", "language"), ("language-practice", "language"), ("Språk", "language"),
     ("mentor", "mentorship"), ("mentoring", "mentorship"), ("Mentorship", "mentorship"),
     ("mentoring  session", "mentorship"), ("Career Mentoring", "mentorship")],
)
def test_session_type_synonyms(raw, expected):
    assert domain.normalise_session_type(raw) == expected


@pytest.mark.parametrize("raw", ["coffee", "", "languages", "mentee", "lang uage"])
def test_unknown_session_types_are_rejected(raw):
    with pytest.raises(FieldError, match="not a known session type"):
        domain.normalise_session_type(raw)


def test_profile_synonyms_extend_the_built_in_ones():
    assert domain.normalise_session_type("Språkkafé", LEGACY.session_type_synonyms) == "language"
    assert domain.normalise_session_type("mentor", LEGACY.session_type_synonyms) == "mentorship"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("completed", "completed"), ("Complete", "completed"), ("DONE", "completed"), ("finished", "completed"),
     ("took place", "completed"), ("scheduled", "scheduled"), ("Booked", "scheduled"), ("upcoming", "scheduled"),
     ("cancelled", "cancelled"), ("canceled", "cancelled"), ("no-show", "cancelled"), ("No Show", "cancelled")],
)
def test_status_synonyms(raw, expected):
    assert domain.normalise_status(raw) == expected


def test_unknown_status_names_the_expected_values():
    with pytest.raises(FieldError, match="completed, scheduled or cancelled"):
        domain.normalise_status("maybe")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("uk", "uk"), ("UK", "uk"), ("Ukrainian", "uk"), ("українська", "uk"), ("ukr", "uk"), ("uk-UA", "uk"),
     ("en", "en"), ("English", "en"), (" english ", "en"), ("eng", "en"), ("en-GB", "en"), ("en_US", "en"),
     ("Arabic", "ar"), ("العربية", "ar"), ("ara", "ar"), ("Farsi", "fa"), ("Dari", "fa"), ("per", "fa"),
     ("Tigrinya", "ti"), ("tir", "ti"), ("Somali", "so"), ("Norwegian", "no"), ("Norsk", "no"), ("nb-NO", "nb"),
     ("Bokmål", "nb"), ("Nynorsk", "nn"), ("German", "de"), ("ger", "de"), ("deu", "de"), ("Français", "fr"),
     ("zh-Hans-CN", "zh"), ("Mandarin", "zh"), ("Kurmanji", "ku"), ("Pashto", "ps")],
)
def test_language_names_and_codes_become_iso_639_1(raw, expected):
    assert domain.normalise_language(raw) == expected


@pytest.mark.parametrize("raw", ["Klingon", "xx", "xx-YY", "english please", "e", "123"])
def test_unknown_languages_are_rejected(raw):
    with pytest.raises(FieldError, match="not a known language"):
        domain.normalise_language(raw)


def test_profile_language_synonyms():
    assert domain.normalise_language("Ukrainsk", LEGACY.language_synonyms) == "uk"
    with pytest.raises(FieldError):
        domain.normalise_language("Ukrainsk")


@pytest.mark.parametrize(("raw", "expected"), [("b1", "B1"), (" B1 ", "B1"), ("c2", "C2"), ("a 1", "A1"), ("A2", "A2")])
def test_cefr_levels_are_upper_cased(raw, expected):
    assert domain.normalise_level(raw) == expected


@pytest.mark.parametrize("raw", ["D1", "B3", "B", "intermediate", "B1+", "A0", "1"])
def test_invalid_cefr_levels_are_rejected(raw):
    with pytest.raises(FieldError, match="CEFR"):
        domain.normalise_level(raw)


DMY = ("%d/%m/%Y %H:%M", "%d/%m/%Y")


@pytest.mark.parametrize(
    ("raw", "formats", "tz", "expected"),
    [
        ("2024-03-04T14:00:00Z", (), "UTC", datetime(2024, 3, 4, 14, 0, tzinfo=UTC)),
        ("2024-03-04T14:00:00+01:00", (), "UTC", datetime(2024, 3, 4, 13, 0, tzinfo=UTC)),
        ("2024-03-04 14:00", (), "UTC", datetime(2024, 3, 4, 14, 0, tzinfo=UTC)),
        ("2024-03-04", (), "UTC", datetime(2024, 3, 4, tzinfo=UTC)),
        ("2024-03-04T14:00:00.250Z", (), "UTC", datetime(2024, 3, 4, 14, 0, 0, 250000, tzinfo=UTC)),
        ("04/03/2024 14:00", DMY, "UTC", datetime(2024, 3, 4, 14, 0, tzinfo=UTC)),
        ("04/03/2024", DMY, "UTC", datetime(2024, 3, 4, tzinfo=UTC)),
        ("04/03/2024 14:00", DMY, "Europe/Oslo", datetime(2024, 3, 4, 13, 0, tzinfo=UTC)),  # CET
        ("04/07/2024 14:00", DMY, "Europe/Oslo", datetime(2024, 7, 4, 12, 0, tzinfo=UTC)),  # CEST
        ("2024-07-04T14:00:00Z", DMY, "Europe/Oslo", datetime(2024, 7, 4, 14, 0, tzinfo=UTC)),  # an offset wins
        ("  2024-03-04T14:00:00Z  ", (), "UTC", datetime(2024, 3, 4, 14, 0, tzinfo=UTC)),
    ],
)
def test_datetimes(raw, formats, tz, expected):
    parsed = domain.parse_datetime(raw, formats, tz)
    assert parsed == expected and parsed.tzinfo == UTC


@pytest.mark.parametrize(
    ("raw", "formats", "message"),
    [("yesterday", DMY, "DD/MM/YYYY HH:MM"), ("04/03/2024 14:00", (), "ISO 8601"), ("31/02/2024 10:00", DMY, "known format"),
     ("1999-12-31T23:00:00Z", (), "plausible"), ("2024-13-01", (), "known format")],
)
def test_bad_datetimes_say_what_is_expected(raw, formats, message):
    with pytest.raises(FieldError, match=message):
        domain.parse_datetime(raw, formats)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("45", 45), ("45.0", 45), ("45 min", 45), ("45mins", 45), ("45 minutes", 45), ("0", 0), ("1:30", 90), ("0:45", 45),
     ("1440", 1440)],
)
def test_durations(raw, expected):
    assert domain.parse_duration(raw) == expected


@pytest.mark.parametrize("raw", ["-5", "45.5", "forty", "1441", "25:00:00", "1h", "1:75"])
def test_bad_durations(raw):
    with pytest.raises(FieldError):
        domain.parse_duration(raw)


def test_duration_between_rounds_to_the_minute_and_checks_order():
    start = datetime(2024, 3, 4, 14, 0, tzinfo=UTC)
    assert domain.duration_between(start, datetime(2024, 3, 4, 14, 44, 31, tzinfo=UTC)) == 45
    assert domain.duration_between(start, datetime(2024, 3, 4, 14, 44, 29, tzinfo=UTC)) == 44
    assert domain.duration_between(start, start) == 0
    with pytest.raises(FieldError, match="before start"):
        domain.duration_between(start, datetime(2024, 3, 4, 13, 0, tzinfo=UTC))
    with pytest.raises(FieldError, match="longer than a day"):
        domain.duration_between(start, datetime(2024, 3, 5, 15, 0, tzinfo=UTC))


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("5", 5), ("4.0", 4), (" 3 ", 3)])
def test_scores(raw, expected):
    assert domain.parse_score(raw) == expected


@pytest.mark.parametrize("raw", ["0", "6", "4.5", "five", "-1"])
def test_bad_scores(raw):
    with pytest.raises(FieldError, match="1 to 5"):
        domain.parse_score(raw)


def test_topics_are_trimmed_deduplicated_and_ordered():
    assert domain.split_topics(" travel ; work;;travel; CV ") == ("travel", "work", "CV")
    assert domain.split_topics("a, b", ",") == ("a", "b")
    with pytest.raises(FieldError):
        domain.split_topics("x" * 101)


def test_clean_trims_all_whitespace_and_empties_to_none():
    assert domain.clean("\u00a0 KP-1 \t") == "KP-1"
    assert domain.clean("   ") is None
    assert domain.clean(None) is None
    assert domain.clean(45) == "45"


# --- rows -------------------------------------------------------------------------------


def test_a_valid_row_is_normalised():
    record = domain.normalise_row(row(session_type=" Language Session ", language="Ukrainian", level="b1",
                                      participant_rating="5", participant_comment=" great "), CANONICAL_PROFILE)
    assert record.session_type == "language" and record.language == "uk" and record.level == "B1"
    assert record.start == datetime(2024, 3, 4, 14, 0, tzinfo=UTC)
    [rating] = record.ratings
    assert (rating.rating_id, rating.rater_id, rating.score, rating.comment) == ("S-1:participant", "P-1", 5, "great")
    assert rating.created_at == datetime(2024, 3, 4, 14, 45, tzinfo=UTC)  # no rated_at: the session's end


def test_every_bad_field_of_a_row_is_reported():
    errors = errors_of(row(session_type="coffee", language="Klingon", level="Z1", start="soon", participant_id=" "))
    assert set(errors) == {"session_type", "language", "level", "start", "participant_id"}
    assert errors["participant_id"] == "a value is required"


@pytest.mark.parametrize("missing", domain.REQUIRED_FIELDS)
def test_required_values(missing):
    assert errors_of(row(**{missing: ""}))[missing] == "a value is required"


def test_duration_column_wins_over_start_and_end():
    record = domain.normalise_row(row(duration_minutes="30", end="2024-03-04T15:00:00Z"), CANONICAL_PROFILE)
    assert record.duration_minutes == 30


def test_duration_from_start_and_end():
    record = domain.normalise_row(row(duration_minutes=None, end="2024-03-04T14:50:00Z"), CANONICAL_PROFILE)
    assert record.duration_minutes == 50


def test_a_completed_session_needs_a_duration():
    assert "duration" in errors_of(row(duration_minutes=None))["duration_minutes"]


def test_a_scheduled_session_needs_no_duration():
    assert domain.normalise_row(row(duration_minutes=None, status="scheduled"), CANONICAL_PROFILE).duration_minutes is None


def test_a_language_session_needs_a_language_but_mentorship_does_not():
    assert "needs a language" in errors_of(row(language=None))["language"]
    record = domain.normalise_row(row(language=None, session_type="mentor", level=None), CANONICAL_PROFILE)
    assert record.language is None


def test_only_completed_sessions_can_be_rated():
    assert "only a completed session" in errors_of(row(status="scheduled", participant_rating="4"))["participant_rating"]


def test_a_comment_without_a_rating_is_an_error():
    assert "without a rating" in errors_of(row(volunteer_comment="hm"))["volunteer_rating"]


def test_both_roles_can_rate():
    record = domain.normalise_row(row(participant_rating="5", volunteer_rating="3", rated_at="2024-03-05T09:00:00Z"),
                                  CANONICAL_PROFILE)
    assert [(r.rater_role, r.rater_id, r.score) for r in record.ratings] == [("participant", "P-1", 5), ("volunteer", "V-1", 3)]
    assert {r.created_at for r in record.ratings} == {datetime(2024, 3, 5, 9, 0, tzinfo=UTC)}


def test_identifier_limits():
    assert "longer than 180" in errors_of(row(session_id="S" * 181))["session_id"]
    assert "control characters" in errors_of(row(participant_id="P\x001"))["participant_id"]


def test_profile_defaults_fill_empty_cells():
    profile = MappingProfile(name="d", columns=dict(CANONICAL_PROFILE.columns), defaults={"status": "completed"})
    assert domain.normalise_row(row(status=""), profile).status == "completed"


# --- CSV --------------------------------------------------------------------------------


def test_line_numbers_count_physical_lines_including_quoted_newlines_and_blank_lines():
    text = (
        HEADER + "\n"
        'S-1,language,P-1,V-1,2024-03-04T14:00:00Z,,45,uk,B1,completed,\n'
        "\n"
        'S-2,language,P-2,V-1,2024-03-04T14:00:00Z,,45,"uk",B9,completed,\n'
        'S-3,mentor,P-3,V-1,2024-03-04T14:00:00Z,,45,,,completed,"\n'
        'four"\n'
        'S-4,mentor,P-4,V-1,bad,,45,,,completed,\n'
    )
    parsed = domain.parse_csv(text, DEFAULT)
    assert parsed.rows_total == 4
    assert [(e.line, e.field) for e in parsed.errors] == [(4, "level"), (5, "participant_rating"), (7, "start")]
    assert [line for line, _ in parsed.records] == [2]
    assert parsed.rejected_lines == {4, 5, 7}


def test_headers_match_case_insensitively_with_aliases_and_report_ignored_columns():
    text = "Session ID,TYPE, Participant ,volunteer,Start-Time,Duration,Lang,State,Extra\nS,lang,P,V,2024-03-04T14:00:00Z,5,en,done,x\n"
    parsed = domain.parse_csv(text, DEFAULT)
    assert not parsed.errors and parsed.records[0][1].language == "en"
    assert parsed.ignored_columns == ("Extra",)


def test_crlf_and_bom_are_handled():
    body = ("\ufeff" + HEADER + "\r\nS,lang,P,V,2024-03-04T14:00:00Z,,5,en,,done,\r\n").encode()
    parsed = domain.parse_csv(domain.decode_csv(body), DEFAULT)
    assert parsed.rows_total == 1 and not parsed.errors


def test_missing_required_columns_name_every_one():
    with pytest.raises(CsvRejected) as exc:
        domain.parse_csv("session_id,participant_id\nS,P\n", DEFAULT)
    assert exc.value.missing_columns == ("session_type", "volunteer_id", "start", "status")
    assert "'state'" in str(exc.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("\n\n", "empty"), (HEADER + ",status\n", "twice"),
     (HEADER + ",state\n", "more than one column maps to 'status'"),
     (HEADER + '\nS,"lang,P\n', "malformed")],
)
def test_file_level_problems(text, message):
    with pytest.raises(CsvRejected, match=message):
        domain.parse_csv(text, DEFAULT)


def test_decode_rejects_non_utf8():
    with pytest.raises(CsvRejected, match="UTF-8"):
        domain.decode_csv("naïve".encode("latin-1"))


def test_wrong_number_of_values_is_a_row_error():
    parsed = domain.parse_csv(HEADER + "\nS,lang,P\n", DEFAULT)
    assert parsed.errors[0].field is None and "3 values" in parsed.errors[0].reason


def test_legacy_profile_semicolons_local_time_and_norwegian_words():
    text = "Booking Ref;Session Kind;Learner ID;Volunteer ID;Session Date;Length (min);Language;CEFR;State\n" \
           "L-1;språkkafé;P;V;04/03/2024 15:00;45;Arabisk;a2;Gjennomført\n"
    [(line, record)] = domain.parse_csv(text, LEGACY).records
    assert (line, record.session_type, record.language, record.level, record.status) == (2, "language", "ar", "A2", "completed")
    assert record.start == datetime(2024, 3, 4, 14, 0, tzinfo=UTC)


# --- mapping profiles -------------------------------------------------------------------


def test_shipped_profiles_load():
    assert set(load_profiles()) == {"default", "kintell_legacy"}
    assert LEGACY.delimiter == ";" and LEGACY.timezone == "Europe/Oslo"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"columns": {"session_id": "id"}}, "required field 'session_type'"),
        ({"columns": {"bogus": "x"}}, "not a canonical field"),
        ({"columns": {f: f for f in domain.REQUIRED_FIELDS}, "timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"columns": {f: f for f in domain.REQUIRED_FIELDS}, "delimiter": ";;"}, "one character"),
        ({"columns": {f: f for f in domain.REQUIRED_FIELDS}, "status_synonyms": {"ok": "fine"}}, "status synonym"),
        ({"columns": {f: f for f in domain.REQUIRED_FIELDS}, "language_synonyms": {"x": "zz"}}, "ISO 639-1"),
        ({"columns": {f: f for f in domain.REQUIRED_FIELDS}, "colums": {}}, "unknown keys"),
        ({"columns": {**{f: f for f in domain.REQUIRED_FIELDS}, "notes": []}}, "header names"),
    ],
)
def test_invalid_profiles_are_refused(data, message):
    with pytest.raises(ValueError, match=message):
        domain.profile_from_dict("p", data)


def test_a_default_can_stand_in_for_a_required_column():
    columns = {f: f for f in domain.REQUIRED_FIELDS if f != "status"}
    profile = domain.profile_from_dict("p", {"columns": columns, "defaults": {"status": "completed"}})
    parsed = domain.parse_csv("session_id,session_type,participant_id,volunteer_id,start\nS,mentor,P,V,2024-03-04T10:00:00Z\n",
                              profile)
    assert parsed.errors[0].field == "duration_minutes"  # completed by default, so it needs a duration


# --- planning ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new", "decision"),
    [(None, "scheduled", Decision.INSERT), (None, "completed", Decision.INSERT), (None, "cancelled", Decision.INSERT),
     ("scheduled", "scheduled", Decision.SAME), ("completed", "completed", Decision.SAME),
     ("scheduled", "completed", Decision.ADVANCE), ("scheduled", "cancelled", Decision.ADVANCE),
     ("completed", "scheduled", Decision.STALE), ("cancelled", "scheduled", Decision.STALE),
     ("completed", "cancelled", Decision.CONFLICT), ("cancelled", "completed", Decision.CONFLICT)],
)
def test_status_transitions(current, new, decision):
    assert domain.decide(current, new) is decision


def _record(session_id: str, status: str):
    return domain.normalise_row(row(session_id=session_id, status=status, duration_minutes="30"), CANONICAL_PROFILE)


def test_plan_applies_earlier_rows_first():
    steps = domain.plan_sessions(
        [(2, _record("A", "scheduled")), (3, _record("A", "completed")), (4, _record("A", "completed")),
         (5, _record("B", "completed")), (6, _record("C", "cancelled"))],
        stored={"B": "completed", "C": "completed"},
    )
    assert [s.decision for s in steps] == [Decision.INSERT, Decision.ADVANCE, Decision.SAME, Decision.SAME, Decision.CONFLICT]
    assert steps[4].conflict().as_dict() == {
        "line": 6, "field": "status", "reason": "session C is already completed; it cannot become cancelled"}


# --- events -----------------------------------------------------------------------------


def test_event_payloads_satisfy_the_contracts():
    record = domain.normalise_row(row(participant_rating="4", topics="a;b", notes="n"), CANONICAL_PROFILE)
    completed = REGISTRY.get("kintell.session.completed.v1").validate(domain.completed_event(record))
    assert completed.participant.system == "kintell" and completed.topics == ("a", "b")
    scheduled = REGISTRY.get("kintell.session.scheduled.v1").validate(domain.scheduled_event(record))
    assert scheduled.scheduled_at == record.start
    rating = REGISTRY.get("kintell.rating.created.v1").validate(domain.rating_event(record.ratings[0]))
    assert (rating.rater_role, rating.rated_by.id, rating.score) == ("participant", "P-1", 4)


def test_longest_session_id_still_makes_a_valid_rating_id():
    record = domain.normalise_row(row(session_id="S" * 180, participant_rating="4"), CANONICAL_PROFILE)
    REGISTRY.get("kintell.rating.created.v1").validate(domain.rating_event(record.ratings[0]))


# --- webhooks ---------------------------------------------------------------------------


def test_webhook_values_accept_json_types():
    values = domain.webhook_session_values({"duration_minutes": 45, "topics": ["a", "b;c"], "level": None})
    assert values["duration_minutes"] == "45" and values["topics"] == "a;b,c" and values["level"] is None


@pytest.mark.parametrize("payload", [[1], "x", {"duration_minutes": True}, {"notes": {"a": 1}}, {"topics": [1]}])
def test_webhook_values_refuse_wrong_shapes(payload):
    with pytest.raises(RowInvalid):
        domain.webhook_session_values(payload)


def test_rating_webhook_parsing():
    sub = domain.parse_rating_webhook({"session_id": "S", "rater_role": "Volunteer", "score": 3, "created_at": "2024-03-04T10:00:00Z"})
    assert (sub.rater_role, sub.score, sub.rater_id) == ("volunteer", 3, None)
    with pytest.raises(RowInvalid) as exc:
        domain.parse_rating_webhook({"session_id": "", "rater_role": "x", "score": 9})
    assert {e.field for e in exc.value.errors} == {"session_id", "rater_role", "score", "created_at"}


def test_rating_is_checked_against_the_session():
    session = _record("S", "completed")
    sub = domain.RatingSubmission("S", "volunteer", None, 4, None, datetime(2024, 3, 4, tzinfo=UTC))
    assert domain.rating_for_session(sub, session).rater_id == "V-1"
    with pytest.raises(FieldError, match="does not match"):
        domain.rating_for_session(domain.RatingSubmission("S", "volunteer", "P-1", 4, None, sub.created_at), session)
    with pytest.raises(FieldError, match="only a completed session"):
        domain.rating_for_session(sub, _record("S", "scheduled"))


NOW = 1_700_000_000.0


def _verify(**overrides):
    body = b'{"a":1}'
    args = {"secret": "s3cret", "tenant": "acme", "timestamp": str(int(NOW)), "body": body, "now": NOW}
    args["signature"] = domain.sign(args["secret"], args["timestamp"], "acme", body)
    args.update(overrides)
    domain.verify_signature(**args)


def test_a_good_signature_verifies():
    _verify()
    _verify(now=NOW + 300)
    _verify(now=NOW - 300)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"signature": None}, "required"), ({"timestamp": None}, "required"), ({"timestamp": "soon"}, "Unix time"),
     ({"now": NOW + 301}, "300 seconds"), ({"now": NOW - 301}, "300 seconds"), ({"body": b'{"a":2}'}, "does not match"),
     ({"tenant": "beta"}, "does not match"), ({"secret": "other"}, "does not match"),
     ({"signature": "sha256=" + "0" * 64}, "does not match"), ({"signature": "sha1=abc"}, "does not match")],
)
def test_bad_signatures(overrides, message):
    with pytest.raises(domain.SignatureError, match=message):
        _verify(**overrides)


@pytest.mark.parametrize(("tenant", "ok"), [("acme", True), ("acme-2_x", True), ("", False), (None, False),
                                            ("a.b", False), ("-x", False), ("a" * 101, False)])
def test_tenant_header_values(tenant, ok):
    assert domain.valid_tenant(tenant) is ok

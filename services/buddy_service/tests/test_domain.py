"""Unit tests for domain.py: value normalisers, the validator of every record kind, CSV and
JSON parsing, import planning (duplicates, conflicts, references to matches), the report,
and the event payloads. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.buddy_service import domain
from services.buddy_service.domain import (
    CHECKINS,
    EVENTS,
    FEEDBACK,
    MATCHES,
    Activity,
    Checkin,
    Context,
    Feedback,
    FieldError,
    ImportRejected,
    Match,
    Outcome,
    RowInvalid,
)
from summit_contracts import REGISTRY

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
CTX = Context(now=NOW)
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FEB1 = datetime(2024, 2, 1, 10, 0, tzinfo=UTC)
M1 = Match("M-1", "P-1", "B-1", FEB1, "Oslo Welcome")


def errors_of(kind: str, values: dict, ctx: Context = CTX) -> dict[str | None, str]:
    with pytest.raises(RowInvalid) as exc:
        domain.validate(kind, values, ctx)
    assert all(e.kind == kind for e in exc.value.errors)
    return {e.field: e.reason for e in exc.value.errors}


# --- value normalisers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "timezone", "expected"),
    [
        ("2024-03-04T14:00:00Z", "UTC", datetime(2024, 3, 4, 14, 0, tzinfo=UTC)),
        ("2024-03-04T15:00:00+01:00", "UTC", datetime(2024, 3, 4, 14, 0, tzinfo=UTC)),
        ("2024-03-04 14:00", "UTC", datetime(2024, 3, 4, 14, 0, tzinfo=UTC)),
        ("2024-03-04", "UTC", datetime(2024, 3, 4, tzinfo=UTC)),
        ("04/03/2024 14:00", "UTC", datetime(2024, 3, 4, 14, 0, tzinfo=UTC)),
        ("04/03/2024 14:00:30", "UTC", datetime(2024, 3, 4, 14, 0, 30, tzinfo=UTC)),
        ("04/03/2024", "UTC", datetime(2024, 3, 4, tzinfo=UTC)),
        ("04.03.2024 14:00", "UTC", datetime(2024, 3, 4, 14, 0, tzinfo=UTC)),
        ("04.03.2024", "UTC", datetime(2024, 3, 4, tzinfo=UTC)),
        # No offset: the import's time zone applies (Oslo is UTC+1 in winter, UTC+2 in summer).
        ("2024-03-04 15:00", "Europe/Oslo", datetime(2024, 3, 4, 14, 0, tzinfo=UTC)),
        ("2024-07-04 15:00", "Europe/Oslo", datetime(2024, 7, 4, 13, 0, tzinfo=UTC)),
        # An explicit offset wins over the import's zone.
        ("2024-03-04T14:00:00Z", "Europe/Oslo", datetime(2024, 3, 4, 14, 0, tzinfo=UTC)),
    ],
)
def test_parse_datetime(raw, timezone, expected):
    got = domain.parse_datetime(raw, timezone)
    assert got == expected and got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [("yesterday", "not a date-time"), ("2024-13-01", "not a date-time"), ("03/04/24", "not a date-time"),
     ("1999-12-31T00:00:00Z", "plausible years"), ("2101-01-01", "plausible years")],
)
def test_parse_datetime_rejects(raw, needle):
    with pytest.raises(FieldError, match=needle):
        domain.parse_datetime(raw)


def test_unknown_timezone_is_named():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        domain.zone("Mars/Olympus")


@pytest.mark.parametrize(
    ("raw", "minutes"),
    [("90", 90), ("0", 0), ("90.0", 90), ("90 min", 90), ("90 minutes", 90), ("45m", 45), ("1:30", 90),
     ("0:05", 5), ("2h", 120), ("1h30", 90), ("1 h 30 min", 90), ("1 hour", 60), ("24:00", 1440)],
)
def test_parse_duration(raw, minutes):
    assert domain.parse_duration(raw) == minutes


@pytest.mark.parametrize("raw", ["an hour", "-5", "1.5", "1:75", "90 sec", "h"])
def test_parse_duration_rejects(raw):
    with pytest.raises(FieldError, match="not a duration"):
        domain.parse_duration(raw)


def test_a_duration_over_a_day_is_rejected():
    with pytest.raises(FieldError, match="longer than a day"):
        domain.parse_duration("1441")


@pytest.mark.parametrize(("raw", "score"), [("1", 1), ("5", 5), ("4.0", 4), ("4/5", 4), (" 3 / 5 ", 3)])
def test_parse_score(raw, score):
    assert domain.parse_score(raw) == score


@pytest.mark.parametrize("raw", ["0", "6", "4.5", "four", "-1", "5/10"])
def test_parse_score_rejects(raw):
    with pytest.raises(FieldError, match="whole number from 1 to 5"):
        domain.parse_score(raw)


@pytest.mark.parametrize(
    ("raw", "category"),
    [("cultural", "cultural"), ("Culture", "cultural"), ("museum", "cultural"), ("Sports", "sport"),
     ("Language Café", "language_cafe"), ("language-cafe", "language_cafe"), ("Språkkafé", "language_cafe"),
     ("hiking", "outdoor"), ("dinner", "social"), ("Practical help", "practical"),
     # Unknown names are kept as a slug: programmes have their own activity types.
     ("Board Games", "board_games"), ("Cooking class!", "cooking_class"), ("Ski-trip 2", "ski_trip_2"),
     ("Practical-Help!", "practical"), ("Fjelltur i Ås", "fjelltur_i_ås"), ("ثقافة", "ثقافة")],
)
def test_normalise_category(raw, category):
    assert domain.normalise_category(raw) == category


@pytest.mark.parametrize("raw", ["!!!", "42", "—"])
def test_a_category_without_letters_is_rejected(raw):
    with pytest.raises(FieldError, match="not a usable category"):
        domain.normalise_category(raw)


def test_a_category_is_at_most_50_characters():
    with pytest.raises(FieldError, match="50"):
        domain.normalise_category("a" * 51)


@pytest.mark.parametrize(
    ("raw", "role"),
    [("participant", "participant"), ("Newcomer", "participant"), ("mentee", "participant"), ("Deltaker", "participant"),
     ("buddy", "buddy"), ("Volunteer", "buddy"), ("mentor", "buddy"), ("frivillig", "buddy")],
)
def test_normalise_role(raw, role):
    assert domain.normalise_role(raw) == role


def test_unknown_role_names_the_expected_values():
    with pytest.raises(FieldError, match="participant or buddy"):
        domain.normalise_role("coordinator")


@pytest.mark.parametrize(("raw", "needle"), [("x" * 201, "200 characters"), ("M-1\x00", "control characters")])
def test_parse_identifier_rejects(raw, needle):
    with pytest.raises(FieldError, match=needle):
        domain.parse_identifier(raw)


def test_a_too_long_text_is_rejected_without_echoing_it():
    with pytest.raises(FieldError) as exc:
        domain.parse_text("secret words " * 1000)
    assert "secret" not in str(exc.value) and "10000" in str(exc.value)


def test_clean_trims_every_kind_of_space_and_empties_to_none():
    assert domain.clean("\u00a0 M-1 \t") == "M-1"
    assert domain.clean("   ") is None and domain.clean(None) is None
    assert domain.clean("Cafe\u0301") == "Café"  # NFC


# --- the match validator ----------------------------------------------------------------

MATCH_ROW = {"match_id": "M-1", "participant_id": "P-1", "buddy_id": "B-1", "matched_at": "2024-02-01T10:00:00Z",
             "program": "Oslo Welcome"}


def test_validate_match():
    assert domain.validate(MATCHES, MATCH_ROW, CTX) == M1
    assert domain.validate(MATCHES, {**MATCH_ROW, "program": ""}, CTX).program is None


@pytest.mark.parametrize("missing", ["match_id", "participant_id", "buddy_id", "matched_at"])
def test_a_match_needs_its_required_fields(missing):
    assert errors_of(MATCHES, {**MATCH_ROW, missing: "  "}) == {missing: "a value is required"}


def test_a_match_lists_every_problem_at_once():
    got = errors_of(MATCHES, {"match_id": "M-1\x07", "participant_id": "", "buddy_id": "B-1", "matched_at": "soon",
                              "program": "p" * 101})
    assert set(got) == {"match_id", "participant_id", "matched_at", "program"}
    assert "control characters" in got["match_id"] and "100 characters" in got["program"]


def test_a_person_cannot_be_their_own_buddy():
    assert errors_of(MATCHES, {**MATCH_ROW, "buddy_id": "P-1"}) == {"buddy_id": "the buddy and the participant are the same person"}


def test_a_match_may_be_registered_ahead_of_time():
    match = domain.validate(MATCHES, {**MATCH_ROW, "matched_at": "2024-09-01T10:00:00Z"}, CTX)
    assert match.matched_at > NOW


def test_the_import_time_zone_applies_to_naive_match_times():
    match = domain.validate(MATCHES, {**MATCH_ROW, "matched_at": "01.02.2024 11:00"}, Context(now=NOW, timezone="Europe/Oslo"))
    assert match.matched_at == FEB1


# --- the event (shared activity) validator ---------------------------------------------

EVENT_ROW = {"event_id": "E-1", "match_id": "M-1", "category": "Culture", "occurred_at": "2024-02-10T16:00:00Z",
             "duration_minutes": "2h"}


def test_validate_activity():
    assert domain.validate(EVENTS, EVENT_ROW, CTX) == Activity(
        "E-1", "M-1", "cultural", datetime(2024, 2, 10, 16, tzinfo=UTC), 120, None)


@pytest.mark.parametrize("missing", ["match_id", "category", "occurred_at"])
def test_an_event_needs_its_required_fields(missing):
    assert errors_of(EVENTS, {**EVENT_ROW, missing: None}) == {missing: "a value is required"}


def test_an_event_without_an_id_gets_a_stable_derived_one():
    row = {**EVENT_ROW, "event_id": ""}
    first = domain.validate(EVENTS, row, CTX)
    assert first.event_id.startswith("EV-") and len(first.event_id) == 27
    # Same fact spelled differently (category synonym, another offset for the same instant): same id.
    again = domain.validate(EVENTS, {**row, "category": "cultural", "occurred_at": "2024-02-10T17:00:00+01:00"}, CTX)
    assert again.event_id == first.event_id
    other = domain.validate(EVENTS, {**row, "occurred_at": "2024-02-10T16:01:00Z"}, CTX)
    assert other.event_id != first.event_id
    assert domain.validate(EVENTS, {**row, "category": "sport"}, CTX).event_id != first.event_id


def test_an_event_in_the_future_is_rejected_but_a_day_of_slack_is_allowed():
    tomorrow = (NOW + timedelta(hours=23)).isoformat()
    assert domain.validate(EVENTS, {**EVENT_ROW, "occurred_at": tomorrow}, CTX).occurred_at == NOW + timedelta(hours=23)
    got = errors_of(EVENTS, {**EVENT_ROW, "occurred_at": "2024-06-03T12:00:00Z"})
    assert got == {"occurred_at": "2024-06-03T12:00:00+00:00 is in the future; only what already happened can be imported"}


def test_an_event_with_bad_values_lists_them():
    got = errors_of(EVENTS, {**EVENT_ROW, "duration_minutes": "ages", "category": "??", "participant_id": "x" * 300})
    assert set(got) == {"duration_minutes", "category", "participant_id"}


# --- the check-in validator -------------------------------------------------------------

CHECKIN_ROW = {"checkin_id": "C-1", "match_id": "M-1", "completed_at": "2024-02-15T09:00:00Z", "mood": "4/5",
               "notes": "  Settling in well.\nShe wants to go every week.  "}


def test_validate_checkin():
    assert domain.validate(CHECKINS, CHECKIN_ROW, CTX) == Checkin(
        "C-1", "M-1", datetime(2024, 2, 15, 9, tzinfo=UTC), 4, "Settling in well.\nShe wants to go every week.", None)


def test_a_checkin_needs_only_match_and_time():
    got = domain.validate(CHECKINS, {"match_id": "M-1", "completed_at": "2024-02-15"}, CTX)
    assert (got.mood, got.notes) == (None, None)
    assert got.checkin_id == domain.derive_id("CI", "M-1", "2024-02-15T00:00:00+00:00")


@pytest.mark.parametrize(("field", "value", "needle"), [("mood", "0", "1 to 5"), ("mood", "great", "1 to 5"),
                                                        ("notes", "n" * 10_001, "10000"), ("completed_at", "", "required"),
                                                        ("match_id", None, "required")])
def test_a_checkin_with_a_bad_value(field, value, needle):
    got = errors_of(CHECKINS, {**CHECKIN_ROW, field: value})
    assert list(got) == [field] and needle in got[field]


# --- the feedback validator -------------------------------------------------------------

FEEDBACK_ROW = {"feedback_id": "F-1", "match_id": "M-1", "from_role": "Mentee", "rating": "5",
                "text": "My buddy is patient.", "submitted_at": "2024-03-01T12:00:00Z"}


def test_validate_feedback():
    assert domain.validate(FEEDBACK, FEEDBACK_ROW, CTX) == Feedback(
        "F-1", "M-1", "participant", datetime(2024, 3, 1, 12, tzinfo=UTC), 5, "My buddy is patient.", None)


def test_feedback_needs_a_rating_or_a_text():
    assert domain.validate(FEEDBACK, {**FEEDBACK_ROW, "text": ""}, CTX).rating == 5
    assert domain.validate(FEEDBACK, {**FEEDBACK_ROW, "rating": None}, CTX).text == "My buddy is patient."
    assert errors_of(FEEDBACK, {**FEEDBACK_ROW, "rating": "", "text": " "}) == {
        "rating": "feedback needs a rating, a text, or both"}


def test_an_invalid_rating_is_reported_once():
    assert errors_of(FEEDBACK, {**FEEDBACK_ROW, "rating": "9", "text": ""}) == {"rating": "'9' is not a whole number from 1 to 5"}


def test_feedback_with_every_field_wrong():
    got = errors_of(FEEDBACK, {"feedback_id": "F\x00", "match_id": "", "from_role": "boss", "rating": "x",
                               "submitted_at": "2030-01-01"})
    assert set(got) == {"feedback_id", "match_id", "from_role", "rating", "submitted_at"}


def test_derived_feedback_ids_tell_the_two_sides_apart():
    row = {**FEEDBACK_ROW, "feedback_id": None}
    participant = domain.validate(FEEDBACK, row, CTX)
    buddy = domain.validate(FEEDBACK, {**row, "from_role": "volunteer"}, CTX)
    assert participant.feedback_id.startswith("FB-") and participant.feedback_id != buddy.feedback_id


def test_the_row_position_is_on_every_error():
    with pytest.raises(RowInvalid) as exc:
        domain.validate(FEEDBACK, {}, Context(now=NOW, line=7))
    assert {(e.line, e.index) for e in exc.value.errors} == {(7, None)}
    assert {e.field for e in exc.value.errors} == {"match_id", "from_role", "submitted_at", "rating"}


# --- CSV --------------------------------------------------------------------------------


def test_every_sample_parses_cleanly():
    for kind in domain.KINDS:
        parsed = domain.parse_csv(kind, (SAMPLES / f"{kind}.csv").read_text(), CTX)
        assert parsed.errors == () and parsed.rows_total == len(parsed.items) > 0, kind


def test_the_samples_are_consistent_with_each_other():
    matches = {r.match_id: r for _, _, r in domain.parse_csv(MATCHES, (SAMPLES / "matches.csv").read_text(), CTX).items}
    for kind in (EVENTS, CHECKINS, FEEDBACK):
        parsed = domain.parse_csv(kind, (SAMPLES / f"{kind}.csv").read_text(), CTX)
        steps = domain.plan(kind, parsed.items, stored={}, matches=matches)
        assert {s.outcome for s in steps} == {Outcome.CREATED}, [s.errors for s in steps]


def test_headers_match_aliases_case_and_separators():
    text = "Pair-ID;Newcomer;VOLUNTEER;Match Date;programme;Notes\nM-1;P-1;B-1;01.02.2024 10:00;Oslo;x\n"
    parsed = domain.parse_csv(MATCHES, text, CTX)
    assert [r for _, _, r in parsed.items] == [Match("M-1", "P-1", "B-1", FEB1, "Oslo")]
    assert parsed.ignored_fields == ("Notes",)


def test_tab_separated_files_are_detected():
    text = "match_id\tcompleted_at\tmood\nM-1\t2024-02-15\t3\n"
    assert [r.mood for _, _, r in domain.parse_csv(CHECKINS, text, CTX).items] == [3]


def test_missing_required_columns_are_named():
    with pytest.raises(ImportRejected) as exc:
        domain.parse_csv(FEEDBACK, "feedback_id,match_id,text\nF-1,M-1,hi\n", CTX)
    assert exc.value.missing_columns == ("from_role", "submitted_at")
    assert "'given_by'" in str(exc.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [("", "empty"), (" , \n", "empty"), ("match_id,match_id,completed_at\n", "twice"),
     ("match_id,date,checkin_date\n", "more than one column means 'completed_at'"),
     ('match_id,completed_at\nM-1,"2024-02-15\n', "malformed near line")],
)
def test_file_level_problems(text, needle):
    with pytest.raises(ImportRejected, match=needle):
        domain.parse_csv(CHECKINS, text, CTX)


def test_not_utf8_is_rejected_and_a_bom_is_not():
    with pytest.raises(ImportRejected, match="UTF-8"):
        domain.decode_csv("match_id\næ\n".encode("latin-1"))
    assert domain.decode_csv("\ufeffmatch_id\n".encode()) == "match_id\n"


def test_line_numbers_count_blank_lines_and_quoted_newlines():
    text = (
        "checkin_id,match_id,completed_at,mood,notes\n"
        "C-1,M-1,2024-02-15,9,\n"  # line 2
        "\n"  # line 3: blank, not a row
        'C-2,M-1,2024-02-16,3,"two\nlines"\n'  # lines 4-5
        "C-3,M-1,someday,3,\n"  # line 6
        "C-4,M-1\n"  # line 7
    )
    parsed = domain.parse_csv(CHECKINS, text, CTX)
    assert parsed.rows_total == 4
    assert [(line, r.checkin_id) for line, _, r in parsed.items] == [(4, "C-2")]
    assert [(e.line, e.field) for e in parsed.errors] == [(2, "mood"), (6, "completed_at"), (7, None)]
    assert parsed.rejected == ((2, None), (6, None), (7, None))
    assert "2 values but the header has 5 columns" in parsed.errors[-1].reason


def test_no_alias_means_two_fields_of_one_kind():
    for spec in domain.SPECS.values():
        keys = [domain._key(n) for names in spec.columns.values() for n in names]
        assert len(keys) == len(set(keys)), spec.kind
        assert set(spec.required) <= set(spec.columns)


# --- JSON -------------------------------------------------------------------------------


def test_json_one_record_or_an_array():
    one = domain.parse_json(MATCHES, MATCH_ROW, CTX)
    assert one.rows_total == 1 and [(i, r) for _, i, r in one.items] == [(0, M1)]
    many = domain.parse_json(MATCHES, [MATCH_ROW, {**MATCH_ROW, "match_id": "M-2"}], CTX)
    assert [r.match_id for _, _, r in many.items] == ["M-1", "M-2"]
    assert domain.parse_json(MATCHES, [], CTX).rows_total == 0


@pytest.mark.parametrize("payload", ["M-1", 42, None, True])
def test_json_must_be_an_object_or_an_array(payload):
    with pytest.raises(ImportRejected, match="JSON object"):
        domain.parse_json(MATCHES, payload, CTX)


def test_json_bad_records_are_reported_by_index_and_good_ones_kept():
    parsed = domain.parse_json(CHECKINS, [CHECKIN_ROW, "nope", {**CHECKIN_ROW, "mood": 7}, {**CHECKIN_ROW, "notes": ["a"]}], CTX)
    assert [i for _, i, _ in parsed.items] == [0]
    assert [(e.index, e.field, e.line) for e in parsed.errors] == [
        (1, None, None), (2, "mood", None), (3, "notes", None)]
    assert "must be a string or a number" in parsed.errors[-1].reason


def test_json_numbers_and_external_refs():
    record = {"match_id": 1001, "participant": {"system": "buddy", "id": "P-1"}, "buddy": {"system": "buddy", "id": "B-1"},
              "matched_at": "2024-02-01T10:00:00Z", "extra": 1, "note": "x"}
    parsed = domain.parse_json(MATCHES, record, CTX)
    assert [r for _, _, r in parsed.items] == [Match("1001", "P-1", "B-1", FEB1)]
    assert parsed.ignored_fields == ("extra", "note")
    checkin = domain.parse_json(CHECKINS, {**CHECKIN_ROW, "mood": 4.0}, CTX)
    assert checkin.items[0][2].mood == 4


def test_json_refs_must_be_buddy_system_ids():
    parsed = domain.parse_json(MATCHES, [{**MATCH_ROW, "participant_id": None, "participant": {"system": "kintell", "id": "K-1"}},
                                         {**MATCH_ROW, "participant": {"system": "buddy", "id": "P-1"}}], CTX)
    assert parsed.items == ()
    reasons = {e.index: e.reason for e in parsed.errors}
    assert "system 'buddy'" in reasons[0] and "'kintell'" in reasons[0]
    assert "not both" in reasons[1]
    # null is the same as absent, whatever the key order.
    ok = domain.parse_json(MATCHES, {"participant": {"system": "buddy", "id": "P-1"}, **MATCH_ROW, "participant_id": None}, CTX)
    assert ok.errors == () and ok.items[0][2].participant_id == "P-1"


# --- planning ---------------------------------------------------------------------------


def items(*records, start_line: int = 2):
    return [(start_line + n, None, r) for n, r in enumerate(records)]


def test_new_matches_are_created_and_repeats_are_duplicates():
    m2 = Match("M-2", "P-2", "B-2", FEB1)
    steps = domain.plan(MATCHES, items(M1, m2, M1), stored={})
    assert [s.outcome for s in steps] == [Outcome.CREATED, Outcome.CREATED, Outcome.DUPLICATE]
    again = domain.plan(MATCHES, items(M1, m2), stored={"M-1": M1, "M-2": m2})
    assert [s.outcome for s in again] == [Outcome.DUPLICATE, Outcome.DUPLICATE]


def test_a_changed_record_under_a_stored_id_is_rejected_naming_the_fields():
    changed = Match("M-1", "P-9", "B-1", FEB1 + timedelta(days=1), "Oslo Welcome")
    [step] = domain.plan(MATCHES, items(changed), stored={"M-1": M1})
    assert step.outcome is Outcome.REJECTED
    [error] = step.errors
    assert (error.line, error.field) == (2, "match_id")
    assert error.reason == ("match 'M-1' is already imported with a different participant_id, matched_at;"
                            " an imported record is not changed by a re-import")


def test_a_changed_record_under_an_id_seen_earlier_in_the_request_names_that_line():
    changed = Match("M-1", "P-1", "B-2", FEB1)
    steps = domain.plan(MATCHES, items(M1, changed), stored={})
    assert steps[1].outcome is Outcome.REJECTED
    assert "earlier in this import (line 2) with a different buddy_id" in steps[1].errors[0].reason
    json_steps = domain.plan(MATCHES, [(None, 0, M1), (None, 1, changed)], stored={})
    assert "(index 0)" in json_steps[1].errors[0].reason


def test_dependents_take_the_participant_of_their_match():
    event = Activity("E-1", "M-1", "sport", FEB1 + timedelta(days=3))
    [step] = domain.plan(EVENTS, items(event), stored={}, matches={"M-1": M1})
    assert step.outcome is Outcome.CREATED
    assert step.record.participant_id == "P-1" and step.record_id == "E-1"


def test_a_record_for_an_unknown_match_is_rejected():
    feedback = Feedback("F-1", "M-404", "participant", FEB1, 5)
    [step] = domain.plan(FEEDBACK, items(feedback), stored={}, matches={"M-1": M1})
    assert step.outcome is Outcome.REJECTED
    assert step.errors[0].as_dict() == {
        "kind": "feedback", "line": 2, "index": None, "field": "match_id",
        "reason": "unknown match 'M-404': import the match first (or in the same request)"}


def test_a_record_for_a_match_rejected_in_the_same_request_says_so():
    checkin = Checkin("C-1", "M-2", FEB1)
    [step] = domain.plan(CHECKINS, items(checkin), stored={}, matches={}, rejected_matches={"M-2"})
    assert step.errors[0].reason == "match 'M-2' was rejected in this import"


def test_a_participant_that_is_not_the_matchs_is_rejected():
    event = Activity("E-1", "M-1", "sport", FEB1, participant_id="B-1")
    [step] = domain.plan(EVENTS, items(event), stored={}, matches={"M-1": M1})
    assert step.outcome is Outcome.REJECTED
    assert step.errors[0].field == "participant_id" and "not the participant of match 'M-1'" in step.errors[0].reason
    fine = domain.plan(EVENTS, items(Activity("E-1", "M-1", "sport", FEB1, participant_id="P-1")), stored={}, matches={"M-1": M1})
    assert fine[0].outcome is Outcome.CREATED


def test_a_record_dated_before_its_match_is_rejected_with_a_days_grace():
    early = Checkin("C-1", "M-1", FEB1 - timedelta(days=2))
    [step] = domain.plan(CHECKINS, items(early), stored={}, matches={"M-1": M1})
    assert step.outcome is Outcome.REJECTED and step.errors[0].field == "completed_at"
    assert "is before match 'M-1' was made (2024-02-01T10:00:00+00:00)" in step.errors[0].reason
    same_day = Checkin("C-2", "M-1", FEB1 - timedelta(hours=10))  # a date-only export of the same day
    assert domain.plan(CHECKINS, items(same_day), stored={}, matches={"M-1": M1})[0].outcome is Outcome.CREATED


def test_a_stored_dependent_is_a_duplicate_after_resolution():
    stored = Feedback("F-1", "M-1", "participant", FEB1, 5, "ok", participant_id="P-1")
    incoming = Feedback("F-1", "M-1", "participant", FEB1, 5, "ok")  # no participant column in the export
    [step] = domain.plan(FEEDBACK, items(incoming), stored={"F-1": stored}, matches={"M-1": M1})
    assert step.outcome is Outcome.DUPLICATE
    [changed] = domain.plan(FEEDBACK, items(Feedback("F-1", "M-1", "participant", FEB1, 4, "ok")),
                            stored={"F-1": stored}, matches={"M-1": M1})
    assert changed.outcome is Outcome.REJECTED and "different rating" in changed.errors[0].reason


def test_invalid_steps_group_errors_by_row():
    parsed = domain.parse_csv(CHECKINS, "match_id,completed_at,mood\n,soon,9\nM-1,2024-02-15,3\n", CTX)
    [step] = domain.invalid_steps(parsed)
    assert (step.line, step.outcome, step.record) == (2, Outcome.REJECTED, None)
    assert {e.field for e in step.errors} == {"match_id", "completed_at", "mood"}


# --- the report -------------------------------------------------------------------------


def test_build_report_counts_and_lists_every_row():
    text = "match_id,participant_id,buddy_id,matched_at\nM-1,P-1,B-1,2024-02-01T10:00:00Z\nM-2,P-2,P-2,2024-02-01\nM-1,P-1,B-1,2024-02-01T10:00:00Z\n"
    parsed = domain.parse_csv(MATCHES, text, CTX, filename="m.csv")
    steps = domain.plan(MATCHES, parsed.items, stored={}) + domain.invalid_steps(parsed)
    report = domain.build_report(import_id="I-1", fmt="csv", timezone="UTC", sections=[(parsed, steps)],
                                 imported_by="u1", created_at=NOW)
    assert {k: report[k] for k in ("rows_total", "accepted", "rejected", "duplicates")} == {
        "rows_total": 3, "accepted": 1, "rejected": 1, "duplicates": 1}
    assert report["sections"] == [{"kind": "matches", "filename": "m.csv", "rows_total": 3, "accepted": 1, "rejected": 1,
                                   "duplicates": 1, "ignored_fields": []}]
    assert report["errors"] == [{"kind": "matches", "line": 3, "index": None, "field": "buddy_id",
                                 "reason": "the buddy and the participant are the same person"}]
    assert [(r["line"], r["id"], r["outcome"]) for r in report["records"]] == [
        (2, "M-1", "created"), (3, None, "rejected"), (4, "M-1", "duplicate")]
    assert report["created_at"] == NOW.isoformat()


# --- event payloads ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        M1,
        Activity("E-1", "M-1", "language_cafe", FEB1, 90, "P-1"),
        Checkin("C-1", "M-1", FEB1, 4, "Settling in well.", "P-1"),
        Feedback("F-1", "M-1", "buddy", FEB1, None, "Great match.", "P-1"),
    ],
)
def test_event_payloads_satisfy_the_contracts(record):
    spec = domain.SPECS[domain.kind_of(record)]
    data = REGISTRY.get(spec.event_type).validate(domain.event_payload(record))
    assert getattr(data, spec.id_field) == domain.record_id(record)
    assert data.participant.model_dump() == {"system": "buddy", "id": "P-1"}


def test_a_match_event_names_both_people():
    payload = domain.event_payload(M1)
    assert payload == {"match_id": "M-1", "participant": {"system": "buddy", "id": "P-1"},
                       "buddy": {"system": "buddy", "id": "B-1"}, "matched_at": "2024-02-01T10:00:00+00:00",
                       "program": "Oslo Welcome"}


def test_a_dependent_must_be_planned_before_its_event_is_built():
    with pytest.raises(ValueError, match="plan the record first"):
        domain.event_payload(Checkin("C-1", "M-1", FEB1))


def test_the_service_emits_one_event_type_per_kind():
    assert domain.EMITS == ("buddy.match.created.v1", "buddy.event.logged.v1", "buddy.checkin.completed.v1",
                            "buddy.feedback.submitted.v1")
    assert all(REGISTRY.get(t).owner == "buddy-service" for t in domain.EMITS)

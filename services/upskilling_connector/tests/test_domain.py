"""Unit tests for domain.py: value normalisers, the category rule, stable identities, progress
planning, the report and the event payloads (checked against the contracts). No I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.upskilling_connector import domain
from services.upskilling_connector.domain import (
    Completion,
    Credential,
    FieldError,
    Issue,
    Outcome,
    Progress,
    RowError,
    Skipped,
    StoredProgress,
    Where,
)
from summit_contracts import REGISTRY

T0 = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)


def completion(**overrides) -> Completion:
    values = {"provider": "ecornell", "participant_id": "EC-1", "course_id": "ILRHR520", "course_name": "Leading Teams",
              "completed_at": T0, "category": "professional", "score": 91.5}
    values.update(overrides)
    return Completion(**values)


def progress(percent: float, at: datetime, course: str = "C-1", **overrides) -> Progress:
    values = {"provider": "itslearning", "participant_id": "P-1", "course_id": course, "course_name": "Norsk A2",
              "percent_complete": percent, "updated_at": at}
    values.update(overrides)
    return Progress(**values)


# --- dates ------------------------------------------------------------------------------------

US = ("%m/%d/%Y", "%m/%d/%Y %I:%M %p")
NO = ("%d.%m.%Y %H:%M", "%d.%m.%Y")


@pytest.mark.parametrize(
    ("raw", "formats", "tz", "expected"),
    [
        ("2024-03-15T14:30:00Z", (), "UTC", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),
        ("2024-03-15T14:30:00.0000000Z", (), "UTC", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),  # .NET 7 digits
        ("2024-03-15T14:30:00.1234567", (), "UTC", datetime(2024, 3, 15, 14, 30, 0, 123456, tzinfo=UTC)),
        ("2024-03-15T15:30:00+01:00", (), "America/New_York", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),
        ("2024-03-15", (), "America/New_York", datetime(2024, 3, 15, 4, 0, tzinfo=UTC)),  # EDT midnight
        ("/Date(1710513000000)/", (), "UTC", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),
        ("/Date(1710513000000+0100)/", (), "UTC", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),  # offset is display only
        ("03/04/2024", US, "America/New_York", datetime(2024, 3, 4, 5, 0, tzinfo=UTC)),  # March 4 (EST)
        ("03/04/2024 2:15 PM", US, "America/New_York", datetime(2024, 3, 4, 19, 15, tzinfo=UTC)),
        ("04.03.2024 14:00", NO, "Europe/Oslo", datetime(2024, 3, 4, 13, 0, tzinfo=UTC)),  # CET
        ("04.07.2024 14:00", NO, "Europe/Oslo", datetime(2024, 7, 4, 12, 0, tzinfo=UTC)),  # CEST
        ("04.03.2024", NO, "Europe/Oslo", datetime(2024, 3, 3, 23, 0, tzinfo=UTC)),
    ],
)
def test_datetimes(raw, formats, tz, expected):
    assert domain.parse_datetime(raw, formats=formats, timezone=tz) == expected


@pytest.mark.parametrize(
    ("raw", "formats", "message"),
    [
        ("13/04/2024", US, "MM/DD/YYYY"),  # a day-first date in a US export
        ("yesterday", (), "ISO 8601"),
        ("1899-12-31", (), "plausible years"),
        ("2150-01-01T00:00:00Z", (), "plausible years"),
        ("/Date(99999999999999)/", (), "plausible years"),
        ("04.03.2024 kl 14", NO, "DD.MM.YYYY HH:mm"),
    ],
)
def test_bad_datetimes_say_what_is_expected(raw, formats, message):
    with pytest.raises(FieldError, match=message):
        domain.parse_datetime(raw, formats=formats)


# --- numbers, percentages, scores ---------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("45", 45.0), ("45%", 45.0), ("45 %", 45.0), ("45,5", 45.5),
                                               ("0", 0.0), ("100", 100.0), ("99.999", 100.0), (".5", 0.5)])
def test_percentages(raw, expected):
    assert domain.parse_percent(raw) == expected


@pytest.mark.parametrize("raw", ["101", "-1", "100.01", "A-", "1,234.5", "1,2,3", "nan", "inf", "", "%"])
def test_bad_percentages(raw):
    with pytest.raises(FieldError):
        domain.parse_percent(raw)


@pytest.mark.parametrize(
    ("points", "max_points", "expected"),
    [(42.5, 50, 85.0), (0, 50, 0.0), (50, 50, 100.0), (18, 20, 90.0), (1, 3, 33.33), (77, None, 77.0), (100, None, 100.0)],
)
def test_scores_become_percentages(points, max_points, expected):
    assert domain.score_percent(points, max_points) == expected


@pytest.mark.parametrize(
    ("points", "max_points", "message"),
    [(55, 50, "above the maximum"), (-1, 50, "negative"), (101, None, "above 100 and no maximum"),
     (5, 0, "must be positive"), (5, -10, "must be positive")],
)
def test_score_bounds(points, max_points, message):
    with pytest.raises(FieldError, match=message):
        domain.score_percent(points, max_points)


@pytest.mark.parametrize(("raw", "expected"), [("1.2", 1.2), ("0", 0.0), ("4,5", 4.5), ("1000", 1000.0)])
def test_credits(raw, expected):
    assert domain.parse_credits(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "1000.5", "lots"])
def test_bad_credits(raw):
    with pytest.raises(FieldError):
        domain.parse_credits(raw)


# --- text values --------------------------------------------------------------------------------


def test_clean_trims_all_whitespace_and_empties_to_none():
    assert domain.clean("\u00a0 EC-1 \t") == "EC-1"
    assert domain.clean("   ") is None
    assert domain.clean(None) is None
    assert domain.clean(4711) == "4711"
    assert domain.clean(4711.0) == "4711"  # a JSON id written as a float
    assert domain.clean(42.5) == "42.5"


def test_emails_are_lower_cased_and_checked():
    assert domain.email("Amina.Haddad@Example.ORG") == "amina.haddad@example.org"
    for bad in ("amina", "a@b", "a b@c.org", "@c.org"):
        with pytest.raises(FieldError):
            domain.email(bad)


def test_identifier_limits():
    assert domain.identifier("x" * 200) == "x" * 200
    with pytest.raises(FieldError, match="longer than 200"):
        domain.identifier("x" * 201)
    with pytest.raises(FieldError, match="control characters"):
        domain.identifier("EC\x00-1")


def test_text_collapses_whitespace_and_limits_length():
    assert domain.text("Leading   High-Performing\u00a0Teams") == "Leading High-Performing Teams"
    with pytest.raises(FieldError):
        domain.text("y" * 201)


@pytest.mark.parametrize("good", ["https://x.org/v/1", "http://x.org", "HTTPS://X.ORG/a?b=c"])
def test_urls(good):
    assert domain.url(good) == good


@pytest.mark.parametrize("bad", ["ftp://x.org", "javascript:alert(1)", "x.org/v/1", "https://", "https://x.org/" + "a" * 2000])
def test_bad_urls(bad):
    with pytest.raises(FieldError):
        domain.url(bad)


def test_keys_ignore_case_spaces_and_separators():
    assert {domain.key(k) for k in ("Course Code", "course_code", "CourseCode", "COURSE-CODE", " course code ")} == {"coursecode"}
    assert domain.words(" Not_Completed ") == "not completed"


# --- the category rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name", "expected"),
    [
        # 1. language: by code or by a keyword anywhere in the name; it wins over everything else
        ("ESL101", "Workplace Communication", "language"),
        ("NOR-A2", None, "language"),
        ("nyn01", "Nynorsk 1", "language"),
        ("ILRHR520", "Business English for HR", "language"),
        ("CIS531", "Python in English", "language"),
        (None, "Norsk for helsearbeidere", "language"),
        (None, "Språkkurs: arabisk", "language"),
        (None, "Academic WRITING in english", "language"),
        # 2. the code's category
        ("CIS531", "Problem-Solving with Machine Learning", "digital"),
        ("HR520", "Data-Driven HR", "professional"),  # the code beats the 'data' keyword
        ("HR-12", "Something", "professional"),
        # 3. name keywords: digital before professional
        ("X100", "Python for Data Analysis", "digital"),
        (None, "Data-Driven Leadership", "digital"),
        (None, "Leading High-Performing Teams", "professional"),
        (None, "Negotiation Skills", "professional"),
        (None, "Introduction to Cyber Security", "digital"),
        (None, "Excel for nybegynnere", "digital"),
        # 4. unknown
        (None, "Food Safety Basics", None),
        ("ABC1", "Cooking for Beginners", None),
        (None, None, None),
        # whole words only
        (None, "Codebreaking in history", None),
        (None, "Profitable Datasets", None),
        (None, "Englishtown tour", None),
    ],
)
def test_category_rule(code, name, expected):
    assert domain.categorise(code, name) == expected


def test_adapter_codes_extend_the_generic_ones():
    assert domain.categorise("ILRHR520", "Team Dynamics") is None
    assert domain.categorise("ILRHR520", "Team Dynamics", extra_codes={"professional": ("ilrhr",)}) == "professional"
    assert domain.categorise("ILRHR520", "Team Dynamics", extra_codes={"professional": ("ILRHR",)}) == "professional"


def test_code_letters_stop_at_digits_and_separators():
    assert domain.code_letters("NOR-A2") == "nor"
    assert domain.code_letters("ilrhr520") == "ilrhr"
    assert domain.code_letters("  Språk2") == "språk"
    assert domain.code_letters("2024-NOR") is None


# --- identities -----------------------------------------------------------------------------------


def test_record_ids_are_readable_and_stable():
    assert completion().completion_id == "ecornell:EC-1:ILRHR520"
    assert completion(score=None, where=Where(line=9)).completion_id == completion().completion_id
    assert Progress("itslearning", "P-1", "1082-9/445", "N", 10, T0).progress_id == "itslearning:P-1:1082-9/445"


def test_colons_in_parts_cannot_make_two_records_collide():
    assert domain.record_id("p", "a:b", "c") != domain.record_id("p", "a", "b:c")
    assert domain.record_id("p", "a%3Ab", "c") != domain.record_id("p", "a:b", "c")


def test_long_ids_are_hashed_to_fit_the_contract():
    long_id = completion(participant_id="p" * 150, course_id="c" * 150).completion_id
    assert len(long_id) <= 200 and long_id.startswith("ecornell:sha256:")
    assert long_id == completion(participant_id="p" * 150, course_id="c" * 150).completion_id
    assert long_id != completion(participant_id="p" * 150, course_id="c" * 149 + "d").completion_id


def test_credential_ids_are_per_provider():
    a = Credential("ecornell", "EC-1", "CERT-1", "HR", T0)
    b = Credential("itslearning", "EC-1", "CERT-1", "HR", T0)
    assert (a.credential_id, b.credential_id) == ("ecornell:CERT-1", "itslearning:CERT-1")


def test_first_occurrence_wins_within_a_file():
    first = completion(score=80.0, where=Where(line=2))
    again = completion(score=95.0, where=Where(line=7))
    other = completion(course_id="OTHER", where=Where(line=3))
    found = domain.first_occurrences([first, other, again])
    assert found[first.completion_id] is first and len(found) == 2


# --- progress planning ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "day", "expected"),
    [(60, 10, "changed"), (40, 10, "touched"), (60, 4, "stale"), (80, 1, "stale"), (40, 4, "stale")],
)
def test_progress_changes(percent, day, expected):
    stored = StoredProgress(40.0, T0)  # 40 % on the 4th
    assert domain.progress_change(stored, progress(percent, T0.replace(day=day))).value == expected
    assert domain.progress_change(None, progress(0, T0)) is domain.ProgressChange.NEW


def test_plan_applies_earlier_rows_first():
    rows = [progress(10, T0), progress(10, T0), progress(35, T0.replace(day=5)), progress(20, T0.replace(day=2)),
            progress(50, T0, course="C-2"), progress(35, T0.replace(day=9))]
    decisions, final = domain.plan_progress(rows, {})
    assert decisions == [True, False, True, False, True, False]
    assert {k: (v.percent_complete, v.updated_at.day) for k, v in final.items()} == {
        "itslearning:P-1:C-1": (35, 9), "itslearning:P-1:C-2": (50, 4)}  # the same 35 % seen later: newer time kept


def test_plan_against_stored_state_is_a_no_op_on_replay():
    rows = [progress(10, T0), progress(35, T0.replace(day=5))]
    _, final = domain.plan_progress(rows, {})
    stored = {k: StoredProgress(v.percent_complete, v.updated_at) for k, v in final.items()}
    decisions, final_again = domain.plan_progress(rows, stored)
    assert decisions == [False, False] and final_again == {}


# --- report -----------------------------------------------------------------------------------------


def test_report_counts_one_outcome_per_row_and_lists_errors_and_skips():
    rows = [completion(where=Where(line=2)),
            RowError((Issue("Grade", "bad"), Issue("CEUs", "worse")), Where(line=3)),
            Skipped("status 'Incomplete' ...", Where(line=4)),
            completion(where=Where(line=5))]
    report = domain.build_report(
        import_id="I-1", kind="completions", provider="ecornell", export_format="csv", filename="x.csv", rows=rows,
        outcomes=[Outcome.ACCEPTED, Outcome.REJECTED, Outcome.SKIPPED, Outcome.DUPLICATE],
        emitted={domain.COMPLETED: 1, domain.PROGRESS_UPDATED: 0}, notices=["n"], ignored_columns=["First Name"],
        created_at=T0,
    )
    assert (report["rows_total"], report["accepted"], report["duplicates"], report["skipped"], report["rejected"]) == (4, 1, 1, 1, 1)
    assert report["errors"] == [{"line": 3, "index": None, "field": "Grade", "reason": "bad"},
                                {"line": 3, "index": None, "field": "CEUs", "reason": "worse"}]
    assert report["skipped_rows"] == [{"line": 4, "index": None, "reason": "status 'Incomplete' ..."}]
    assert report["emitted"] == {domain.COMPLETED: 1}
    assert (report["notices"], report["ignored_columns"], report["filename"]) == (["n"], ["First Name"], "x.csv")
    with pytest.raises(ValueError):
        domain.build_report(import_id="I", kind="completions", provider="p", export_format="csv", filename=None,
                            rows=rows, outcomes=[], emitted={}, created_at=T0)


# --- event payloads ---------------------------------------------------------------------------------


def test_event_payloads_satisfy_the_contracts():
    c = completion(category="language", score=None)
    data = REGISTRY.get(domain.COMPLETED).validate(domain.completed_event(c))
    assert data.participant.system == "ecornell" and data.participant.id == "EC-1"
    assert data.completion_id == "ecornell:EC-1:ILRHR520" and data.category == "language"

    cred = Credential("itslearning", "NO-1", "a-1", "Norsk A2", T0, T0.replace(year=2026), "https://x.org/a-1")
    data = REGISTRY.get(domain.CREDENTIAL_ISSUED).validate(domain.credential_event(cred))
    assert data.credential_id == "itslearning:a-1" and data.expires_at.year == 2026

    data = REGISTRY.get(domain.PROGRESS_UPDATED).validate(domain.progress_event(progress(55.5, T0)))
    assert data.percent_complete == 55.5 and data.participant.system == "itslearning"


def test_the_service_emits_exactly_the_upskilling_contracts():
    assert {REGISTRY.get(t).owner for t in domain.EMITS} == {"upskilling-connector"}
    assert set(domain.EMITS) == {"upskilling.course.completed.v1", "upskilling.credential.issued.v1",
                                 "upskilling.progress.updated.v1"}

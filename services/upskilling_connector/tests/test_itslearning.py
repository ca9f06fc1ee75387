"""Unit tests for the itslearning adapter: REST-style JSON (bare arrays and EntityArray pages) and
report CSV, mapped onto completions, progress, credentials, skipped rows and row errors. No I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.upskilling_connector.domain import Completion, Credential, ExportRejected, Progress, RowError, Skipped
from services.upskilling_connector.providers.base import RawExport
from services.upskilling_connector.providers.itslearning import ADAPTER
from services.upskilling_connector.tests.support import sample

BASE = {"SyncId": "NO-ELEV-1", "PersonId": 4711, "CourseId": "1082-9", "CourseCode": "NOR-A2",
        "CourseTitle": "Norsk A2 muntlig", "AssessmentStatus": "Passed", "ReviewDate": "2024-03-18T08:05:00Z"}


def record(**changes) -> dict:
    values = {**BASE, **changes}
    return {k: v for k, v in values.items() if v is not None}


def parse(kind: str, *records: dict, envelope: bool = False):
    body = {"EntityArray": list(records), "Total": len(records), "CurrentPageIndex": 0, "PageSize": 100} if envelope else list(records)
    return ADAPTER.parse(kind, RawExport("json", json.dumps(body))).rows


def one(kind: str = "completions", **changes):
    [row] = parse(kind, record(**changes))
    return row


def issues(row) -> dict[str | None, str]:
    assert isinstance(row, RowError), row
    return {i.field: i.reason for i in row.issues}


# --- completions from JSON ---------------------------------------------------------------------


def test_a_passed_element_is_a_completion_with_everything_mapped():
    row = one(ElementId=445, ElementTitle="Sluttprøve", Score=42.5, MaxScore=50, SubmittedDate="2024-03-15T14:30:00Z")
    assert row == Completion(
        provider="itslearning", participant_id="NO-ELEV-1", course_id="1082-9/445",
        course_name="Norsk A2 muntlig: Sluttprøve", completed_at=datetime(2024, 3, 18, 8, 5, tzinfo=UTC),
        category="language", score=85.0,
    )
    assert row.where.index == 0


def test_the_rest_paging_envelope_and_a_bare_array_give_the_same_rows():
    records = [record(), record(SyncId="NO-ELEV-2")]
    assert parse("completions", *records, envelope=True) == parse("completions", *records)
    assert [r.where.index for r in parse("completions", *records, envelope=True)] == [0, 1]


@pytest.mark.parametrize("status", ["Completed", "Passed", "passed", "Approved", "Fullført", "Bestått", "Godkjent", "Godkänd"])
def test_completion_statuses_in_english_norwegian_and_swedish(status):
    assert isinstance(one(AssessmentStatus=status), Completion)


@pytest.mark.parametrize("status", ["Failed", "Not completed", "Not passed", "Ikke bestått", "Ikke fullført", "Underkjent",
                                    "Icke godkänd"])
def test_statuses_that_are_not_completions_are_skipped(status):
    row = one(AssessmentStatus=status)
    assert isinstance(row, Skipped) and f"status {status!r} is not a completion" == row.reason


@pytest.mark.parametrize("status", ["In progress", "Submitted", "Påbegynt", "Levert"])
def test_in_progress_with_a_percentage_and_a_date_is_progress(status):
    row = one(AssessmentStatus=status, ProgressPercent=40, LastModified="2024-03-20T10:00:00Z", ReviewDate=None)
    assert row == Progress("itslearning", "NO-ELEV-1", "1082-9", "Norsk A2 muntlig", 40.0,
                           datetime(2024, 3, 20, 10, 0, tzinfo=UTC))


def test_not_started_is_zero_progress_when_dated_else_skipped():
    dated = one(AssessmentStatus="Not started", LastModified="2024-03-20T10:00:00Z")
    assert isinstance(dated, Progress) and dated.percent_complete == 0.0
    undated = one(AssessmentStatus="Ikke startet", ReviewDate=None)
    assert isinstance(undated, Skipped) and "without a LastModified" in undated.reason


def test_in_progress_without_a_percentage_is_skipped():
    row = one(AssessmentStatus="Submitted", SubmittedDate="2024-03-15T14:30:00Z")
    assert isinstance(row, Skipped) and "without a progress percentage" in row.reason


def test_unknown_status_and_status_ids_are_row_errors():
    assert "not an itslearning assessment status" in issues(one(AssessmentStatus="Maybe"))["AssessmentStatus"]
    assert "differ from site to site" in issues(one(AssessmentStatus=None, AssessmentStatusId=3))["AssessmentStatus"]
    assert issues(one(AssessmentStatus=None)) == {"AssessmentStatus": "a value is required"}


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        ({"ReviewDate": "2024-03-18T08:05:00.0000000Z"}, datetime(2024, 3, 18, 8, 5, tzinfo=UTC)),
        ({"ReviewDate": "2024-03-18T09:05:00+01:00"}, datetime(2024, 3, 18, 8, 5, tzinfo=UTC)),
        ({"ReviewDate": "2024-03-18T08:05:00"}, datetime(2024, 3, 18, 8, 5, tzinfo=UTC)),  # REST: UTC
        ({"ReviewDate": "/Date(1710749100000)/"}, datetime(2024, 3, 18, 8, 5, tzinfo=UTC)),
        ({"ReviewDate": "/Date(1710749100000+0100)/"}, datetime(2024, 3, 18, 8, 5, tzinfo=UTC)),
        ({"ReviewDate": None, "SubmittedDate": "2024-03-15T14:30:00Z"}, datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),
        ({"ReviewDate": None, "CompletedDate": "2024-03-16"}, datetime(2024, 3, 16, tzinfo=UTC)),
        ({"ReviewDate": "18.03.2024 09:05"}, datetime(2024, 3, 18, 9, 5, tzinfo=UTC)),  # JSON: no offset = UTC
    ],
)
def test_completion_dates(dates, expected):
    assert one(**dates).completed_at == expected


def test_a_completion_needs_a_review_or_submission_date():
    assert issues(one(ReviewDate=None)) == {"ReviewDate": "a completed result needs a ReviewDate or SubmittedDate"}
    assert "not a date" in issues(one(ReviewDate="18.03.2024 kl 08"))["ReviewDate"]


@pytest.mark.parametrize(
    ("score", "max_score", "expected"),
    [(42.5, 50, 85.0), ("42,5", "50", 85.0), (50, 50, 100.0), (0, 20, 0.0), (77, None, 77.0), (None, 50, None)],
)
def test_scores_are_percentages_of_the_maximum(score, max_score, expected):
    assert one(Score=score, MaxScore=max_score).score == expected


@pytest.mark.parametrize(
    ("score", "max_score", "message"),
    [(55, 50, "above the maximum score 50"), (-1, 50, "negative"), (142, None, "above 100 and no maximum"),
     (5, 0, "must be positive"), ("lots", 50, "not a number")],
)
def test_score_bounds(score, max_score, message):
    assert message in issues(one(Score=score, MaxScore=max_score))["Score"]


def test_the_person_is_the_sync_id_else_the_person_id():
    assert one().participant_id == "NO-ELEV-1"
    assert one(SyncId=None).participant_id == "4711"
    assert one(SyncId=None, PersonId=None, UserSyncKey="U-7").participant_id == "U-7"
    assert one(SyncId=None, PersonId=None, UserId=99).participant_id == "99"
    assert issues(one(SyncId=None, PersonId=None)) == {"SyncId": "a SyncId or PersonId is required"}


def test_the_course_is_course_id_else_sync_key_else_code_with_the_element():
    assert (one().course_id, one().course_name) == ("1082-9", "Norsk A2 muntlig")
    assert one(CourseId=None, CourseSyncKey="SK-NOR").course_id == "SK-NOR"
    assert one(CourseId=None).course_id == "NOR-A2"
    assert one(CourseTitle=None).course_name == "NOR-A2"
    assert one(LearningItemId=9, LearningItemTitle="Test 1").course_id == "1082-9/9"
    errors = issues(one(CourseId=None, CourseCode=None, CourseTitle=None))
    assert set(errors) == {"CourseId", "CourseTitle"}


def test_category_comes_from_the_course_code_or_title():
    assert one().category == "language"
    assert one(CourseCode="DIG-01", CourseTitle="Digital kompetanse").category == "digital"
    assert one(CourseCode="ARB-10", CourseTitle="Arbeidsliv i Norge").category == "professional"
    assert one(CourseCode="MAT-1", CourseTitle="Matematikk 1").category is None


def test_keys_match_whatever_their_case():
    row = one(SyncId=None, syncid="NO-ELEV-9", AssessmentStatus=None, assessmentstatus="Completed")
    assert row.participant_id == "NO-ELEV-9"


def test_nested_values_and_non_objects_are_row_errors():
    assert issues(one(SyncId={"id": 1})) == {"SyncId": "must be a text or a number, not an object or a list"}
    [row] = ADAPTER.parse("completions", RawExport("json", '["just text"]')).rows
    assert issues(row) == {None: "expected a JSON object"}


@pytest.mark.parametrize(
    ("body", "message"),
    [("{not json", "not valid JSON"), ('{"Items": []}', "EntityArray"), ('"text"', "JSON array"),
     ('{"EntityArray": {"a": 1}}', "EntityArray")],
)
def test_file_level_json_problems(body, message):
    with pytest.raises(ExportRejected, match=message):
        ADAPTER.parse("completions", RawExport("json", body))


def test_a_partial_page_adds_a_notice():
    body = {"EntityArray": [record()], "Total": 250, "CurrentPageIndex": 0, "PageSize": 1}
    parsed = ADAPTER.parse("completions", RawExport("json", json.dumps(body)))
    assert parsed.notices == ("this is page 1 of an itslearning result with 250 records; import the other pages too",)
    assert ADAPTER.parse("completions", RawExport("json", json.dumps([record()]))).notices == ()


def test_the_json_sample_maps_as_documented():
    rows = ADAPTER.parse("completions", RawExport("json", sample("itslearning_results.json").decode())).rows
    assert [type(r).__name__ for r in rows] == ["Completion", "Completion", "Skipped", "Progress", "Skipped"]
    assert rows[1].completed_at == datetime(2024, 3, 18, 10, 0, tzinfo=UTC)  # /Date(1710756000000+0100)/
    assert rows[3].participant_id == "4714"  # no SyncId: the PersonId


# --- completions from the report CSV -------------------------------------------------------------

CSV_HEADER = "Person ID;Sync ID;Course ID;Course code;Course;Element ID;Element;Status;Score;Max score;Submitted;Assessed"


def csv_rows(*lines: str, header: str = CSV_HEADER):
    return ADAPTER.parse("completions", RawExport("csv", "\n".join([header, *lines]))).rows


def test_report_csv_with_semicolons_norwegian_dates_and_decimal_commas():
    [row] = csv_rows("4720;NO-ELEV-2001;1082-9;NOR-B1;Norsk B1 skriftlig;446;Skriftlig;Bestått;37,5;50;14.03.2024 13:45;18.03.2024 09:00")
    assert row == Completion("itslearning", "NO-ELEV-2001", "1082-9/446", "Norsk B1 skriftlig: Skriftlig",
                             datetime(2024, 3, 18, 8, 0, tzinfo=UTC), "language", 75.0)  # Oslo CET -> UTC
    assert row.where.line == 2


def test_report_csv_dates_are_oslo_time_summer_and_winter():
    rows = csv_rows("1;;C;;Kurs;;;Fullført;;;;01.03.2024", "2;;C;;Kurs;;;Fullført;;;;01.07.2024 12:00")
    assert [r.completed_at for r in rows] == [datetime(2024, 2, 29, 23, 0, tzinfo=UTC), datetime(2024, 7, 1, 10, 0, tzinfo=UTC)]


def test_report_csv_with_commas_and_norwegian_headers():
    header = "Bruker-ID,Synk-ID,Fag-ID,Fagkode,Fag,Vurderingsstatus,Poeng,Maks poeng,Vurdert"
    [row] = csv_rows("4720,,1100,EXC-01,Excel for nybegynnere,Godkjent,9,10,05.03.2024 10:00", header=header)
    assert (row.participant_id, row.course_id, row.score, row.category) == ("4720", "1100", 90.0, "digital")


def test_report_csv_needs_a_person_a_course_and_a_status_column():
    with pytest.raises(ExportRejected) as exc:
        csv_rows("x;y", header="First name;Last name")
    assert exc.value.missing_columns == ("SyncId", "CourseId", "AssessmentStatus")


def test_the_csv_sample_maps_as_documented():
    parsed = ADAPTER.parse("completions", RawExport.decode(sample("itslearning_results.csv"), "csv"))
    assert [type(r).__name__ for r in parsed.rows] == ["Completion", "Skipped", "Completion"]
    assert parsed.ignored_columns == ("First name", "Last name")


# --- progress ------------------------------------------------------------------------------------


def test_progress_records():
    rows = parse("progress",
                 record(AssessmentStatus=None, ReviewDate=None, ProgressPercent=35, LastModified="2024-03-10T09:00:00Z"),
                 record(AssessmentStatus=None, ReviewDate=None, Progress="55,5", T_ModifiedDate="/Date(1711533600000)/"),
                 record(AssessmentStatus="Completed", SubmittedDate="2024-03-15T14:30:00Z", ReviewDate=None),
                 record(AssessmentStatus="Not started", ReviewDate=None, LastModified="2024-03-01T00:00:00Z"),
                 envelope=True)
    assert [(r.percent_complete, r.updated_at.isoformat()) for r in rows] == [
        (35.0, "2024-03-10T09:00:00+00:00"), (55.5, "2024-03-27T10:00:00+00:00"), (100.0, "2024-03-15T14:30:00+00:00"),
        (0.0, "2024-03-01T00:00:00+00:00")]


def test_progress_row_errors():
    rows = parse("progress",
                 record(AssessmentStatus=None, ReviewDate=None, LastModified="2024-03-10T09:00:00Z"),
                 record(AssessmentStatus=None, ReviewDate=None, ProgressPercent=101, LastModified="2024-03-10T09:00:00Z"),
                 record(AssessmentStatus=None, ReviewDate=None, ProgressPercent=50),
                 record(AssessmentStatus=None, ReviewDate=None, ProgressPercent=50, LastModified="10/03/2024 x"))
    assert "a value is required" in issues(rows[0])["ProgressPercent"]
    assert "between 0 and 100" in issues(rows[1])["ProgressPercent"]
    assert "needs a LastModified" in issues(rows[2])["LastModified"]
    assert "not a date" in issues(rows[3])["LastModified"]


def test_the_progress_sample():
    rows = ADAPTER.parse("progress", RawExport("json", sample("itslearning_progress.json").decode())).rows
    assert [r.percent_complete for r in rows] == [35.0, 70.0, 55.5]


# --- badges --------------------------------------------------------------------------------------


def badge(**changes) -> dict:
    values = {"AssertionId": "a-1", "BadgeId": 310, "BadgeName": "Norsk A2 muntlig", "SyncId": "NO-ELEV-1",
              "IssuedOn": "2024-03-18T08:06:00Z", "AssertionUrl": "https://badges.example.org/a-1", **changes}
    return {k: v for k, v in values.items() if v is not None}


def test_a_badge_assertion_is_a_credential():
    [row] = parse("credentials", badge())
    assert row == Credential("itslearning", "NO-ELEV-1", "a-1", "Norsk A2 muntlig", datetime(2024, 3, 18, 8, 6, tzinfo=UTC),
                             None, "https://badges.example.org/a-1")
    assert row.credential_id == "itslearning:a-1"


def test_without_an_assertion_id_a_badge_is_awarded_once_per_person():
    [row] = parse("credentials", badge(AssertionId=None, SyncId=None, PersonId=4712, IssuedOn=None,
                                       AwardedDate="/Date(1710756060000)/"))
    assert (row.native_id, row.participant_id, row.issued_at) == ("310/4712", "4712", datetime(2024, 3, 18, 10, 1, tzinfo=UTC))


def test_badge_row_errors():
    rows = parse("credentials", badge(AssertionId=None, BadgeId=None), badge(IssuedOn=None), badge(BadgeName=None),
                 badge(ExpiresOn="2024-01-01T00:00:00Z"), badge(AssertionUrl="not a url"))
    assert issues(rows[0]) == {"AssertionId": "an AssertionId or BadgeId is required"}
    assert issues(rows[1]) == {"IssuedOn": "a value is required"}
    assert issues(rows[2]) == {"BadgeName": "a value is required"}
    assert issues(rows[3]) == {"ExpiresOn": "the badge expires before it was issued"}
    assert "not an http(s) URL" in issues(rows[4])["AssertionUrl"]


def test_the_badge_sample():
    rows = ADAPTER.parse("credentials", RawExport("json", sample("itslearning_badges.json").decode())).rows
    assert [r.credential_id for r in rows] == ["itslearning:a7f3c1e2-0b9d-4c57-9e1a-2f6d8b4c0a11", "itslearning:311/4712"]

"""Unit tests for the eCornell adapter: how each column and status of its CSV reports maps onto
completions, progress, credentials, skipped rows and row errors. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.upskilling_connector.domain import Completion, Credential, ExportRejected, Progress, RowError, Skipped
from services.upskilling_connector.providers.base import RawExport, UnsupportedFormat
from services.upskilling_connector.providers.ecornell import ADAPTER
from services.upskilling_connector.tests.support import sample

HEADER = "Learner ID,Email,Course Code,Course Name,Status,Start Date,Last Activity Date,Completion Date,Percent Complete,Grade,CEUs,Certificate ID"


def completions(*lines: str, header: str = HEADER):
    return ADAPTER.parse("completions", RawExport("csv", "\n".join([header, *lines]) + "\n")).rows


def one(line: str, header: str = HEADER):
    [row] = completions(line, header=header)
    return row


def issues(row) -> dict[str | None, str]:
    assert isinstance(row, RowError), row
    return {i.field: i.reason for i in row.issues}


# --- completions --------------------------------------------------------------------------------


def test_a_complete_row_is_a_completion_with_everything_mapped():
    row = one("EC-1,a@x.org,ILRHR520,Leading High-Performing Teams,Complete,03/06/2024,03/19/2024,03/19/2024,100,96,1.2,CL-1")
    assert row == Completion(
        provider="ecornell", participant_id="EC-1", course_id="ILRHR520", course_name="Leading High-Performing Teams",
        completed_at=datetime(2024, 3, 19, 4, 0, tzinfo=UTC), category="professional", score=96.0, credits=1.2,
        certificate_id="CL-1",
    )
    assert row.where.line == 2 and row.completion_id == "ecornell:EC-1:ILRHR520"


@pytest.mark.parametrize("status", ["Complete", "Completed", "COMPLETE", " complete ", "Passed"])
def test_completion_status_synonyms(status):
    assert isinstance(one(f"EC-1,,C1,Course,{status},,,03/19/2024,,,,"), Completion)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("03/19/2024", datetime(2024, 3, 19, 4, 0, tzinfo=UTC)),  # midnight US Eastern (EDT)
        ("01/23/2024", datetime(2024, 1, 23, 5, 0, tzinfo=UTC)),  # EST
        ("3/9/2024", datetime(2024, 3, 9, 5, 0, tzinfo=UTC)),
        ("03/19/2024 5:30 PM", datetime(2024, 3, 19, 21, 30, tzinfo=UTC)),
        ("03/19/2024 17:30", datetime(2024, 3, 19, 21, 30, tzinfo=UTC)),
        ("03/19/24", datetime(2024, 3, 19, 4, 0, tzinfo=UTC)),
        ("2024-03-19", datetime(2024, 3, 19, 4, 0, tzinfo=UTC)),
        ("2024-03-19T17:30:00Z", datetime(2024, 3, 19, 17, 30, tzinfo=UTC)),
    ],
)
def test_completion_date_formats(raw, expected):
    assert one(f"EC-1,,C1,Course,Complete,,,{raw},,,,").completed_at == expected


@pytest.mark.parametrize("raw", ["19/03/2024", "2024/19/03", "March 19th", "03-19-2024x"])
def test_day_first_and_other_dates_are_row_errors(raw):
    assert "not a date" in issues(one(f"EC-1,,C1,Course,Complete,,,{raw},,,,"))["Completion Date"]


def test_a_complete_row_needs_a_completion_date():
    assert issues(one("EC-1,,C1,Course,Complete,03/01/2024,03/10/2024,,,,,")) == {
        "Completion Date": "a Complete course needs a completion date"}


@pytest.mark.parametrize(
    ("status", "reason"),
    [("Incomplete", "requirements were not met"), ("Failed", "requirements were not met"),
     ("Did not complete", "requirements were not met"), ("Withdrawn", "left the course"),
     ("Dropped", "left the course"), ("Canceled", "left the course")],
)
def test_statuses_that_are_not_completions_are_skipped_with_a_reason(status, reason):
    row = one(f"EC-1,,C1,Course,{status},03/01/2024,03/10/2024,,70,,,")
    assert isinstance(row, Skipped) and reason in row.reason and status in row.reason


def test_in_progress_with_a_percentage_is_progress():
    row = one("EC-1,,CIS531,Machine Learning,In Progress,04/03/2024,04/10/2024 2:15 PM,,45,,,")
    assert row == Progress("ecornell", "EC-1", "CIS531", "Machine Learning", 45.0, datetime(2024, 4, 10, 18, 15, tzinfo=UTC))


def test_in_progress_falls_back_to_the_start_date():
    assert one("EC-1,,C1,Course,Active,04/03/2024,,,45,,,").updated_at == datetime(2024, 4, 3, 4, 0, tzinfo=UTC)


def test_not_started_is_zero_progress_at_the_start_date():
    row = one("EC-1,,C1,Course,Not Started,05/01/2024,,,,,,")
    assert isinstance(row, Progress) and row.percent_complete == 0.0


@pytest.mark.parametrize(
    ("line", "reason"),
    [("EC-1,,C1,Course,In Progress,04/03/2024,04/10/2024,,,,,", "without a percent complete"),
     ("EC-1,,C1,Course,In Progress,,,,45,,,", "without a last activity or start date")],
)
def test_in_progress_without_percentage_or_date_is_skipped(line, reason):
    row = one(line)
    assert isinstance(row, Skipped) and reason in row.reason


def test_unknown_status_is_a_row_error_naming_the_known_ones():
    assert "Complete, In Progress" in issues(one("EC-1,,C1,Course,Finished-ish,,,03/19/2024,,,,"))["Status"]


@pytest.mark.parametrize(("grade", "expected"), [("96", 96.0), ("88%", 88.0), ("0", 0.0), ("100", 100.0), ("", None)])
def test_grades(grade, expected):
    assert one(f"EC-1,,C1,Course,Complete,,,03/19/2024,,{grade},,").score == expected


@pytest.mark.parametrize("grade", ["104", "-3", "A-", "Pass"])
def test_grades_out_of_bounds_or_not_numbers_are_row_errors(grade):
    assert "Grade" in issues(one(f"EC-1,,C1,Course,Complete,,,03/19/2024,,{grade},,"))


def test_every_bad_field_of_a_row_is_reported():
    found = issues(one(",,,,Complete,,,13/40/2024,,150,-2,"))
    assert set(found) == {"Learner ID", "Course Code", "Course Name", "Completion Date", "Grade", "CEUs"}


def test_learner_id_wins_and_rows_without_it_are_errors_when_the_column_exists():
    row = one("EC-1,Amina@Example.org,C1,Course,Complete,,,03/19/2024,,,,")
    assert row.participant_id == "EC-1"
    assert issues(one(",amina@example.org,C1,Course,Complete,,,03/19/2024,,,,")) == {"Learner ID": "a value is required"}


def test_without_a_learner_id_column_the_lower_cased_email_is_the_learner():
    header = "Email,Course Code,Course Name,Status,Completion Date"
    assert one("Amina@Example.ORG,C1,Course,Complete,03/19/2024", header=header).participant_id == "amina@example.org"
    assert "not an e-mail" in issues(one("amina,C1,Course,Complete,03/19/2024", header=header))["Email"]


@pytest.mark.parametrize(
    "header",
    ["learner_id,course_code,course_title,course_status,date_completed,final_grade",
     "Student ID;Course Number;Course;Completion Status;Completed On;Grade (%)",
     "EMPLOYEE ID\tCOURSE ID\tCOURSE NAME\tSTATUS\tCOMPLETED DATE\tSCORE"],
)
def test_header_aliases_and_delimiters(header):
    delimiter = ";" if ";" in header else "\t" if "\t" in header else ","
    line = delimiter.join(["EC-9", "C9", "Course Nine", "Complete", "03/19/2024", "75"])
    row = one(line, header=header)
    assert (row.participant_id, row.course_id, row.course_name, row.score) == ("EC-9", "C9", "Course Nine", 75.0)


def test_missing_required_columns_are_a_file_level_rejection_naming_them():
    with pytest.raises(ExportRejected) as exc:
        completions("x,y", header="First Name,Last Name")
    assert exc.value.missing_columns == ("Learner ID", "Course Code", "Course Name", "Status")
    assert "'Learner ID' or 'Email'" in str(exc.value)


def test_two_columns_meaning_the_same_field_are_refused():
    with pytest.raises(ExportRejected, match="both mean"):
        completions("EC-1,C1,C2,Course,Complete", header="Learner ID,Course Code,Course ID,Course Name,Status")


def test_unknown_columns_are_ignored_and_reported():
    parsed = ADAPTER.parse("completions", RawExport("csv", sample("ecornell_completions.csv").decode()))
    assert parsed.ignored_columns == ("First Name", "Last Name", "Certificate Program")


def test_wrong_number_of_values_is_one_row_error():
    assert issues(one("EC-1,,C1,Course,Complete,,,03/19/2024,,,,,extra")) == {
        None: "the row has 13 values but the header has 12 columns"}


def test_line_numbers_count_the_header_blank_lines_and_quoted_newlines():
    rows = completions('EC-1,,C1,"Course\nwith a newline",Complete,,,03/19/2024,,,,', "", "EC-2,,C2,Course,Bogus,,,,,,,")
    assert [r.where.line for r in rows] == [2, 5]
    assert rows[0].course_name == "Course with a newline"  # whitespace collapsed


def test_json_is_not_an_ecornell_format():
    with pytest.raises(UnsupportedFormat, match="eCornell exports are CSV"):
        ADAPTER.parse("completions", RawExport("json", "[]"))


def test_the_sample_maps_as_documented():
    rows = ADAPTER.parse("completions", RawExport("csv", sample("ecornell_completions.csv").decode())).rows
    assert [type(r).__name__ for r in rows] == ["Completion", "Progress", "Completion", "Completion", "Skipped", "Skipped", "Progress"]
    assert [r.category for r in rows if isinstance(r, Completion)] == ["professional", "language", "digital"]


# --- progress -------------------------------------------------------------------------------------

PROGRESS_HEADER = "Learner ID,Course Code,Course Name,Status,Percent Complete,Last Activity Date,Completion Date,Start Date"


def progress_rows(*lines: str, header: str = PROGRESS_HEADER):
    return ADAPTER.parse("progress", RawExport("csv", "\n".join([header, *lines]))).rows


def test_progress_rows():
    rows = progress_rows(
        "EC-1,CIS531,ML,In Progress,60,04/12/2024 9:00 AM,,",
        "EC-1,HAME509,Business English,Complete,,,02/20/2024,",  # complete = 100 at the completion date
        "EC-2,CIS532,ML 2,Not Started,,,,05/01/2024",  # not started = 0 at the start date
        "EC-3,CIS533,ML 3,Incomplete,70,03/01/2024,,",  # a percentage is progress whatever the status
    )
    assert [(r.participant_id, r.percent_complete, r.updated_at.date().isoformat()) for r in rows] == [
        ("EC-1", 60.0, "2024-04-12"), ("EC-1", 100.0, "2024-02-20"), ("EC-2", 0.0, "2024-05-01"), ("EC-3", 70.0, "2024-03-01")]


def test_progress_needs_a_percentage_and_a_date():
    row_a, row_b, row_c = progress_rows("EC-1,C1,Course,In Progress,,04/12/2024,,", "EC-1,C2,Course,In Progress,50,,,",
                                        "EC-1,C3,Course,In Progress,150,04/12/2024,,")
    assert "Percent Complete" in issues(row_a)
    assert "Last Activity Date" in issues(row_b)
    assert "between 0 and 100" in issues(row_c)["Percent Complete"]


def test_a_progress_export_may_have_no_status_column():
    [row] = progress_rows("EC-1,C1,Course,40,04/12/2024", header="Learner ID,Course Code,Course Name,Percent Complete,Last Activity")
    assert row.percent_complete == 40.0


# --- credentials ------------------------------------------------------------------------------------

CERT_HEADER = "Learner ID,Certificate Program,Certificate ID,Issue Date,Expiration Date,Verification URL,CEUs,Status"


def credentials(*lines: str, header: str = CERT_HEADER):
    return ADAPTER.parse("credentials", RawExport("csv", "\n".join([header, *lines]))).rows


def test_an_awarded_certificate_is_a_credential():
    [row] = credentials("EC-1,Human Resources Management,CERT-1,04/02/2024,04/02/2027,https://v.example.org/CERT-1,6.0,Awarded")
    assert row == Credential("ecornell", "EC-1", "CERT-1", "Human Resources Management",
                             datetime(2024, 4, 2, 4, 0, tzinfo=UTC), datetime(2027, 4, 2, 4, 0, tzinfo=UTC),
                             "https://v.example.org/CERT-1", 6.0)
    assert row.credential_id == "ecornell:CERT-1"


def test_certificate_statuses():
    rows = credentials("EC-1,P,C-1,04/02/2024,,,,Earned", "EC-1,P,C-2,04/02/2024,,,,Pending",
                       "EC-1,P,C-3,04/02/2024,,,,Revoked", "EC-1,P,C-4,04/02/2024,,,,", "EC-1,P,C-5,04/02/2024,,,,Lost")
    assert isinstance(rows[0], Credential) and isinstance(rows[3], Credential)  # no status: awarded
    assert isinstance(rows[1], Skipped) and "not awarded yet" in rows[1].reason
    assert isinstance(rows[2], Skipped) and "revocations are not imported" in rows[2].reason
    assert "Awarded, Pending or Revoked" in issues(rows[4])["Status"]


def test_certificate_row_errors():
    rows = credentials("EC-1,P,,04/02/2024,,,,", "EC-1,P,C-2,,,,,", "EC-1,P,C-3,04/02/2024,04/01/2024,,,",
                       "EC-1,P,C-4,04/02/2024,,ftp://nope,,", "EC-1,,C-5,04/02/2024,,,-1,")
    assert issues(rows[0]) == {"Certificate ID": "a value is required"}
    assert issues(rows[1]) == {"Issue Date": "a value is required"}
    assert issues(rows[2]) == {"Expiration Date": "the certificate expires before it was issued"}
    assert "not an http(s) URL" in issues(rows[3])["Verification URL"]
    assert set(issues(rows[4])) == {"Certificate Program", "CEUs"}


def test_certificate_export_needs_its_columns():
    with pytest.raises(ExportRejected) as exc:
        credentials("EC-1,x", header="Learner ID,Course Code")
    assert exc.value.missing_columns == ("Certificate Program", "Certificate ID", "Issue Date")

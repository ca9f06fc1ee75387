"""eCornell (Cornell University's online professional education; courses run in Canvas).

What we assume the exports look like (best effort, no network access; see the README):
eCornell for Enterprise gives organisations spreadsheet reports, downloaded as CSV, with one
row per learner per course ("learner progress / completion report") and one row per earned
program certificate ("certificate report"). Column names vary between report versions, so
each field accepts several header names (matched ignoring case, spaces, '_' and '-'):

Completion / progress report (one row per learner and course):
  Learner ID (or Student ID, Employee ID, User ID) | Email   the learner; Learner ID wins when the
                                                   column exists, else the lower-cased e-mail
  Course Code      e.g. HAME507, ILRHR520          Course Name   e.g. "Leading Teams"
  Status           Complete | In Progress | Not Started | Incomplete | Withdrawn (+ synonyms)
  Completion Date, Start Date, Last Activity Date  US style MM/DD/YYYY (optionally HH:MM [AM/PM])
                                                   or ISO 8601; without an offset: US Eastern time
  Percent Complete  0..100 ('%' optional)           Grade   0..100 ('%' optional; blank for
                                                   complete/incomplete-only courses)
  CEUs             continuing education units      Certificate ID   of the completion letter
Certificate report (one row per certificate earned):
  Learner ID | Email, Certificate Program, Certificate ID, Issue Date, Expiration Date,
  Verification URL, CEUs, Status (Awarded | Pending | Revoked; optional)

eCornell marks a course Complete only when every requirement is met ("Incomplete" otherwise),
so Grade is optional and "Incomplete" is never a completion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from services.upskilling_connector import domain
from services.upskilling_connector.domain import (
    Completion,
    Credential,
    FieldError,
    ParsedRow,
    Progress,
    Skipped,
    email,
    identifier,
    parse_credits,
    parse_percent,
    text,
    url,
    words,
)
from services.upskilling_connector.providers.base import (
    Column,
    FieldReader,
    Layout,
    Parsed,
    ProviderAdapter,
    RawExport,
    SourceRow,
    read_table,
)

NAME = "ecornell"
TIMEZONE = "America/New_York"
DATE_FORMATS = (
    "%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%y",
    "%m/%d/%y %H:%M",
)
# eCornell course codes start with the offering school's letters (e.g. ILRHR520: ILR School, HR;
# HAME507: hotel administration). The ones we know of here; the name keywords catch the rest.
CATEGORY_CODES = {"professional": ("ilrhr", "ilr", "hame", "hadm", "nbay", "nba")}

COMPLETE = frozenset({"complete", "completed", "passed", "pass"})
IN_PROGRESS = frozenset({"in progress", "active", "enrolled", "started", "extension", "extension granted", "in review"})
NOT_STARTED = frozenset({"not started", "not yet started", "registered", "scheduled"})
INCOMPLETE = frozenset({"incomplete", "did not complete", "failed", "fail", "not passed", "expired"})
WITHDRAWN = frozenset({"withdrawn", "dropped", "cancelled", "canceled", "transferred", "deferred"})
STATUS_GROUPS = {"complete": COMPLETE, "in_progress": IN_PROGRESS, "not_started": NOT_STARTED,
                 "incomplete": INCOMPLETE, "withdrawn": WITHDRAWN}

AWARDED = frozenset({"awarded", "earned", "issued", "complete", "completed", "active", "valid"})
PENDING = frozenset({"pending", "in progress", "not earned", "not yet earned"})
REVOKED = frozenset({"revoked", "rescinded", "cancelled", "canceled"})

_LEARNER = Column("learner_id", ("Learner ID", "Student ID", "Employee ID", "User ID", "Learner Id"))
_EMAIL = Column("email", ("Email", "Email Address", "E-mail", "Learner Email"))
_CEUS = Column("ceus", ("CEUs", "CEU", "Continuing Education Units"))

ENROLLMENTS = Layout(
    columns=(
        _LEARNER,
        _EMAIL,
        Column("course_code", ("Course Code", "Course ID", "Course Number")),
        Column("course_name", ("Course Name", "Course Title", "Course")),
        Column("status", ("Status", "Course Status", "Completion Status")),
        Column("completion_date", ("Completion Date", "Date Completed", "Completed On", "Completed Date")),
        Column("start_date", ("Start Date", "Course Start Date", "Enrollment Date", "Enrolled On")),
        Column("last_activity", ("Last Activity Date", "Last Activity", "Last Accessed", "Last Access Date")),
        Column("percent", ("Percent Complete", "Progress", "Progress (%)", "% Complete", "Percent Completed")),
        Column("grade", ("Grade", "Final Grade", "Grade (%)", "Score")),
        _CEUS,
        Column("certificate_id", ("Certificate ID", "Certificate Number", "Letter ID")),
    ),
    required=(("learner_id", "email"), ("course_code",), ("course_name",), ("status",)),
    delimiters=(",", ";", "\t"),
)
PROGRESS = Layout(
    columns=ENROLLMENTS.columns,
    required=(("learner_id", "email"), ("course_code",), ("course_name",), ("percent", "status")),
    delimiters=ENROLLMENTS.delimiters,
)
CERTIFICATES = Layout(
    columns=(
        _LEARNER,
        _EMAIL,
        Column("program", ("Certificate Program", "Certificate Name", "Program", "Program Name", "Credential")),
        Column("certificate_id", ("Certificate ID", "Certificate Number", "Credential ID")),
        Column("issue_date", ("Issue Date", "Date Issued", "Date Awarded", "Awarded On", "Certificate Date")),
        Column("expiration_date", ("Expiration Date", "Expiry Date", "Expires", "Expires On")),
        Column("url", ("Verification URL", "Certificate URL", "Credential URL")),
        _CEUS,
        Column("status", ("Status", "Certificate Status")),
    ),
    required=(("learner_id", "email"), ("program",), ("certificate_id",), ("issue_date",)),
    delimiters=ENROLLMENTS.delimiters,
)


def parse_date(value: str) -> datetime:
    return domain.parse_datetime(value, formats=DATE_FORMATS, timezone=TIMEZONE)


def status_group(value: str) -> str:
    found = words(value)
    for group, names in STATUS_GROUPS.items():
        if found in names:
            return group
    raise FieldError(f"{value!r} is not an eCornell course status (Complete, In Progress, Not Started, Incomplete, Withdrawn)")


def certificate_status(value: str) -> str:
    found = words(value)
    for group, names in (("awarded", AWARDED), ("pending", PENDING), ("revoked", REVOKED)):
        if found in names:
            return group
    raise FieldError(f"{value!r} is not a certificate status (Awarded, Pending or Revoked)")


def _learner(reader: FieldReader, present: frozenset[str]) -> str | None:
    """Learner ID when the export has that column (every row must fill it), else the e-mail.
    Never a mix within one export, so a learner keeps one identity."""
    if "learner_id" in present:
        return reader.take("learner_id", identifier, required=True)
    return reader.take("email", email, required=True)


@dataclass(frozen=True)
class Enrollment:
    """One validated row of the completion / progress report."""

    participant_id: str
    course_code: str
    course_name: str
    status: str | None
    status_text: str | None
    completed_at: datetime | None
    started_at: datetime | None
    last_activity: datetime | None
    percent: float | None
    grade: float | None
    ceus: float | None
    certificate_id: str | None


def _enrollment(row: SourceRow, present: frozenset[str], *, completions: bool) -> Enrollment | FieldReader:
    """A completions export needs a status on every row, and a completion date on Complete rows;
    a progress export needs neither (it has a percentage, or a status that implies one)."""
    r = FieldReader(row)
    participant = _learner(r, present)
    course_code = r.take("course_code", identifier, required=True)
    course_name = r.take("course_name", text, required=True)
    status = r.take("status", status_group, required=completions)
    completed_at = r.take("completion_date", parse_date)
    started_at = r.take("start_date", parse_date)
    last_activity = r.take("last_activity", parse_date)
    percent = r.take("percent", parse_percent)
    grade = r.take("grade", parse_percent)
    ceus = r.take("ceus", parse_credits)
    certificate_id = r.take("certificate_id", identifier)
    if completions and status == "complete" and completed_at is None and "completion_date" not in r.failed:
        r.fail("completion_date", "a Complete course needs a completion date")
    if not r.ok:
        return r
    return Enrollment(participant, course_code, course_name, status, r.raw("status"), completed_at, started_at,
                      last_activity, percent, grade, ceus, certificate_id)


class EcornellAdapter(ProviderAdapter):
    name: ClassVar[str] = NAME
    title: ClassVar[str] = "eCornell"
    formats: ClassVar[tuple[str, ...]] = ("csv",)
    description: ClassVar[str] = (
        "eCornell for Enterprise CSV reports: learner course completion/progress report and certificate report; "
        "US dates (MM/DD/YYYY) in US Eastern time"
    )

    def parse_completions(self, raw: RawExport) -> Parsed:
        table = read_table(raw, ENROLLMENTS)
        rows: list[ParsedRow] = []
        for row in table.rows:
            e = _enrollment(row, table.present, completions=True)
            rows.append(e.error() if isinstance(e, FieldReader) else self._completion_row(e, row))
        return Parsed(tuple(rows), table.ignored_columns)

    def _completion_row(self, e: Enrollment, row: SourceRow) -> ParsedRow:
        where = row.where
        if e.status == "complete":
            return Completion(
                provider=NAME, participant_id=e.participant_id, course_id=e.course_code, course_name=e.course_name,
                completed_at=e.completed_at, category=domain.categorise(e.course_code, e.course_name, extra_codes=CATEGORY_CODES),
                score=e.grade, credits=e.ceus, certificate_id=e.certificate_id, where=where,
            )
        if e.status == "incomplete":
            return Skipped(f"status {e.status_text!r}: the course requirements were not met, so it is not a completion", where)
        if e.status == "withdrawn":
            return Skipped(f"status {e.status_text!r}: the learner left the course, so it is not a completion", where)
        # In progress or not started: a progress record when the row says how far and when.
        percent = e.percent if e.percent is not None else (0.0 if e.status == "not_started" else None)
        when = e.last_activity or e.started_at
        if percent is None:
            return Skipped(f"status {e.status_text!r} without a percent complete: nothing to import", where)
        if when is None:
            return Skipped(f"status {e.status_text!r} without a last activity or start date: nothing to import", where)
        return Progress(NAME, e.participant_id, e.course_code, e.course_name, percent, when, where)

    def parse_progress(self, raw: RawExport) -> Parsed:
        table = read_table(raw, PROGRESS)
        rows: list[ParsedRow] = []
        for row in table.rows:
            e = _enrollment(row, table.present, completions=False)
            if isinstance(e, FieldReader):
                rows.append(e.error())
                continue
            percent = e.percent
            if e.status == "complete":
                percent = 100.0  # eCornell marks Complete only when every requirement is met
            elif percent is None and e.status == "not_started":
                percent = 0.0
            when = e.last_activity or (e.completed_at if e.status == "complete" else None) or e.started_at
            reader = FieldReader(row)
            if percent is None:
                reader.fail("percent", "a value is required (or a status of Complete or Not Started)")
            if when is None:
                reader.fail("last_activity", "a progress row needs a last activity, completion or start date")
            if not reader.ok:
                rows.append(reader.error())
                continue
            rows.append(Progress(NAME, e.participant_id, e.course_code, e.course_name, percent, when, row.where))
        return Parsed(tuple(rows), table.ignored_columns)

    def parse_credentials(self, raw: RawExport) -> Parsed:
        table = read_table(raw, CERTIFICATES)
        rows: list[ParsedRow] = []
        for row in table.rows:
            r = FieldReader(row)
            participant = _learner(r, table.present)
            program = r.take("program", text, required=True)
            certificate_id = r.take("certificate_id", identifier, required=True)
            issued_at = r.take("issue_date", parse_date, required=True)
            expires_at = r.take("expiration_date", parse_date)
            link = r.take("url", url)
            ceus = r.take("ceus", parse_credits)
            status = r.take("status", certificate_status)
            if issued_at and expires_at and expires_at <= issued_at:
                r.fail("expiration_date", "the certificate expires before it was issued")
            if not r.ok:
                rows.append(r.error())
            elif status == "pending":
                rows.append(Skipped(f"certificate status {r.raw('status')!r}: not awarded yet", row.where))
            elif status == "revoked":
                rows.append(Skipped(
                    f"certificate status {r.raw('status')!r}: revocations are not imported "
                    "(upskilling.credential.issued.v1 has no revoked counterpart)", row.where))
            else:
                rows.append(Credential(NAME, participant, certificate_id, program, issued_at, expires_at, link, ceus,
                                       row.where))
        return Parsed(tuple(rows), table.ignored_columns)


ADAPTER = EcornellAdapter()

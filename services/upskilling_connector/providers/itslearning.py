"""itslearning (the LMS used by many Nordic schools and municipalities for language and adult education).

What we assume the exports look like (best effort, no network access; see the README):

JSON, shaped like itslearning's REST API and data warehouse entities (PascalCase keys;
either a bare array or the REST paging object {"EntityArray": [...], "Total", "CurrentPageIndex",
"PageSize"}). One record per person per assessed course element (the UserGrade /
learning-object user report shape):
  SyncId (also SyncKey, PersonSyncKey, UserSyncKey)  the person's IMS Enterprise sourcedId set by
                                                     the customer's school system; preferred
  PersonId (also UserId)                             itslearning's own numeric person id; used
                                                     when the record has no SyncId
  CourseId ('1082' or '1082-9'), CourseSyncKey, CourseCode ('nyn01'), CourseTitle
  ElementId (also LearningItemId), ElementTitle      the assessed element (a test, an assignment)
  AssessmentStatus   the status title: Completed / Passed (a completion); Not completed / Failed;
                     In progress / Submitted; Not started; Norwegian and Swedish titles too.
                     AssessmentStatusId alone is not enough: status ids are site-specific.
  Score, MaxScore    points; the completion score is Score / MaxScore as a percentage (without
                     MaxScore, Score must already be 0..100)
  ProgressPercent (also Progress, PercentComplete)   0..100
  ReviewDate (also AssessedDate, CompletedDate), SubmittedDate, LastModified (also T_ModifiedDate)
                     ISO 8601 as the REST API writes it ('2024-03-15T14:30:00.0000000Z'; no offset
                     means UTC) or the WCF form '/Date(1710513000000+0100)/'
Badges (credentials), shaped like an Open Badges assertion as itslearning exposes it:
  AssertionId, BadgeId, BadgeName, SyncId | PersonId, IssuedOn (also AwardedDate), ExpiresOn, AssertionUrl
CSV, as the report pages export it: the same fields under their column titles ('Person ID',
'Sync ID', 'Course code', 'Status', 'Score', 'Max score', 'Submitted', 'Assessed', 'Progress (%)',
Norwegian titles accepted too), separated by ';' (the Nordic Excel default) or ',', dates
DD.MM.YYYY [HH:MM] in Norwegian local time (Europe/Oslo), decimal commas allowed ('42,5').
"""

from __future__ import annotations

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
    identifier,
    parse_number,
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

NAME = "itslearning"
CSV_TIMEZONE = "Europe/Oslo"
JSON_TIMEZONE = "UTC"  # the REST API's dates are UTC (*Utc fields); an offset, when present, wins
DATE_FORMATS = (
    "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y", "%d.%m.%y %H:%M", "%d.%m.%y", "%d/%m/%Y %H:%M", "%d/%m/%Y",
)

COMPLETE = frozenset({
    "completed", "complete", "passed", "approved", "fullført", "fullfort", "bestått", "bestatt", "godkjent",
    "godkänd", "genomförd", "fullførd",
})
NOT_COMPLETE = frozenset({
    "not completed", "failed", "not passed", "not approved", "ikke fullført", "ikke bestått", "ikkje bestått",
    "ikke godkjent", "ikkje godkjent", "underkjent", "icke godkänd", "ej godkänd", "underkänd",
})
IN_PROGRESS = frozenset({
    "in progress", "submitted", "started", "handed in", "not assessed", "påbegynt", "levert", "under arbeid",
    "ikke vurdert", "pågår", "inlämnad",
})
NOT_STARTED = frozenset({"not started", "not submitted", "ikke startet", "ikke påbegynt", "ikke levert", "ej påbörjad"})
STATUS_GROUPS = {"complete": COMPLETE, "not_complete": NOT_COMPLETE, "in_progress": IN_PROGRESS,
                 "not_started": NOT_STARTED}

_SYNC = Column("sync_id", ("SyncId", "SyncKey", "PersonSyncKey", "UserSyncKey", "PersonSyncId", "Sync ID", "Synk-ID"))
_PERSON = Column("person_id", ("PersonId", "UserId", "Person ID", "Bruker-ID"))
_DELIMITERS = (";", ",", "\t")
_ENVELOPE = ("EntityArray",)

RESULTS = Layout(
    columns=(
        _SYNC,
        _PERSON,
        Column("course_id", ("CourseId", "Course ID", "Fag-ID", "Emne-ID")),
        Column("course_sync", ("CourseSyncKey", "Course sync key")),
        Column("course_code", ("CourseCode", "Course code", "Fagkode", "Emnekode")),
        Column("course_title", ("CourseTitle", "CourseName", "Course", "Fag", "Emne")),
        Column("element_id", ("ElementId", "LearningItemId", "LearningObjectInstanceId", "Element ID")),
        Column("element_title", ("ElementTitle", "LearningItemTitle", "Element", "Oppgave")),
        Column("status", ("AssessmentStatus", "AssessmentStatusTitle", "Status", "Vurderingsstatus")),
        Column("status_id", ("AssessmentStatusId",)),
        Column("score", ("Score", "Points", "Poeng")),
        Column("max_score", ("MaxScore", "MaxPoints", "Max score", "Maks poeng")),
        Column("percent", ("ProgressPercent", "Progress", "PercentComplete", "CompletionPercentage", "Progress (%)",
                           "Fremdrift", "Fremdrift (%)")),
        Column("reviewed", ("ReviewDate", "ReviewedDate", "AssessedDate", "Assessed", "CompletedDate",
                            "CompletionDate", "Vurdert")),
        Column("submitted", ("SubmittedDate", "SubmissionDate", "Submitted", "Levert dato")),
        Column("modified", ("LastModified", "ModifiedDate", "LastUpdated", "T_ModifiedDate", "Last modified",
                            "Sist endret")),
    ),
    required=(("sync_id", "person_id"), ("course_id", "course_sync", "course_code"), ("status", "percent")),
    delimiters=_DELIMITERS,
    envelope_keys=_ENVELOPE,
)
BADGES = Layout(
    columns=(
        _SYNC,
        _PERSON,
        Column("assertion_id", ("AssertionId", "BadgeAssertionId", "AwardId", "Assertion ID")),
        Column("badge_id", ("BadgeId", "Badge ID")),
        Column("badge_name", ("BadgeName", "BadgeTitle", "Badge", "Name", "Merke")),
        Column("issued", ("IssuedOn", "IssuedDate", "IssuedUtc", "AwardedDate", "AwardedOn", "Awarded", "Tildelt")),
        Column("expires", ("ExpiresOn", "ExpiryDate", "ExpiresUtc", "Expires", "Utløper")),
        Column("url", ("AssertionUrl", "EvidenceUrl", "BadgeUrl", "Url")),
    ),
    required=(("sync_id", "person_id"), ("assertion_id", "badge_id"), ("badge_name",), ("issued",)),
    delimiters=_DELIMITERS,
    envelope_keys=_ENVELOPE,
)


def status_group(value: str) -> str:
    found = words(value)
    for group, names in STATUS_GROUPS.items():
        if found in names:
            return group
    raise FieldError(
        f"{value!r} is not an itslearning assessment status (Completed, Passed, Not completed, Failed, In progress, "
        "Submitted, Not started, or their Norwegian/Swedish titles)"
    )


class _Row:
    """Reads one itslearning record; dates depend on the export format."""

    def __init__(self, row: SourceRow, export_format: str) -> None:
        self.r = FieldReader(row)
        self.timezone = CSV_TIMEZONE if export_format == "csv" else JSON_TIMEZONE

    def date(self, name: str) -> datetime | None:
        return self.r.take(name, lambda v: domain.parse_datetime(v, formats=DATE_FORMATS, timezone=self.timezone))

    def person(self) -> str | None:
        """SyncId when the record has one (stable, set by the customer's school system), else PersonId."""
        if self.r.has("sync_id"):
            return self.r.take("sync_id", identifier)
        if self.r.has("person_id"):
            return self.r.take("person_id", identifier)
        if not self.r.failed & {"sync_id", "person_id"}:
            self.r.fail("sync_id", "a SyncId or PersonId is required")
        return None

    def course(self) -> tuple[str | None, str | None, str | None]:
        """(course id, course name, course code). The id is CourseId, else CourseSyncKey, else CourseCode,
        with '/<ElementId>' appended for an element result; the name is the course title (else its code),
        with ': <element title>' appended."""
        course_id = self.r.take("course_id", identifier)
        course_sync = self.r.take("course_sync", identifier)
        course_code = self.r.take("course_code", identifier)
        title = self.r.take("course_title", text)
        element_id = self.r.take("element_id", identifier)
        element_title = self.r.take("element_title", text)
        ident = course_id or course_sync or course_code
        name = title or course_code
        if ident is None and not self.r.failed & {"course_id", "course_sync", "course_code"}:
            self.r.fail("course_id", "a CourseId, CourseSyncKey or CourseCode is required")
        if name is None and "course_title" not in self.r.failed:
            self.r.fail("course_title", "a CourseTitle or CourseCode is required")
        if ident and element_id:
            ident = f"{ident}/{element_id}"
        if name and element_title:
            name = f"{name}: {element_title}"
        return ident, name, course_code

    def status(self, *, required: bool) -> str | None:
        group = self.r.take("status", status_group)
        if group is None and required and "status" not in self.r.failed:
            if self.r.has("status_id"):
                self.r.fail("status", "a status title is required: AssessmentStatusId values differ from site to site")
            else:
                self.r.fail("status", "a value is required")
        return group

    def score(self) -> float | None:
        points = self.r.take("score", parse_number)
        max_points = self.r.take("max_score", parse_number)
        if points is None or self.r.failed & {"score", "max_score"}:
            return None
        try:
            return domain.score_percent(points, max_points)
        except FieldError as exc:
            self.r.fail("score", str(exc))
            return None


def _page_notice(envelope: dict) -> tuple[str, ...]:
    total, page = envelope.get("Total"), envelope.get("CurrentPageIndex")
    size = envelope.get("PageSize")
    if isinstance(total, int) and isinstance(page, int) and isinstance(size, int) and total > (page + 1) * size:
        return (f"this is page {page + 1} of an itslearning result with {total} records; import the other pages too",)
    return ()


class ItslearningAdapter(ProviderAdapter):
    name: ClassVar[str] = NAME
    title: ClassVar[str] = "itslearning"
    formats: ClassVar[tuple[str, ...]] = ("json", "csv")
    description: ClassVar[str] = (
        "itslearning REST-style JSON (PascalCase records, bare array or {EntityArray: [...]}) or report CSV "
        "(';'-separated, DD.MM.YYYY dates in Europe/Oslo)"
    )

    def parse_completions(self, raw: RawExport) -> Parsed:
        table = read_table(raw, RESULTS)
        rows: list[ParsedRow] = []
        for source in table.rows:
            row = _Row(source, raw.format)
            r = row.r
            person = row.person()
            course_id, course_name, course_code = row.course()
            status = row.status(required=True)
            score = row.score()
            percent = r.take("percent", parse_percent)
            reviewed, submitted, modified = row.date("reviewed"), row.date("submitted"), row.date("modified")
            completed_at = reviewed or submitted
            if status == "complete" and completed_at is None and not r.failed & {"reviewed", "submitted"}:
                r.fail("reviewed", "a completed result needs a ReviewDate or SubmittedDate")
            if not r.ok:
                rows.append(r.error())
                continue
            where, text_status = source.where, r.raw("status")
            if status == "complete":
                category = domain.categorise(course_code, course_name)
                rows.append(Completion(NAME, person, course_id, course_name, completed_at, category, score,
                                       where=where))
            elif status == "not_complete":
                rows.append(Skipped(f"status {text_status!r} is not a completion", where))
            else:
                percent = percent if percent is not None else (0.0 if status == "not_started" else None)
                when = modified or submitted
                if percent is None:
                    rows.append(Skipped(f"status {text_status!r} without a progress percentage: nothing to import", where))
                elif when is None:
                    rows.append(Skipped(f"status {text_status!r} without a LastModified or SubmittedDate: nothing to import",
                                        where))
                else:
                    rows.append(Progress(NAME, person, course_id, course_name, percent, when, where))
        return Parsed(tuple(rows), table.ignored_columns, _page_notice(dict(table.envelope)))

    def parse_progress(self, raw: RawExport) -> Parsed:
        table = read_table(raw, RESULTS)
        rows: list[ParsedRow] = []
        for source in table.rows:
            row = _Row(source, raw.format)
            r = row.r
            person = row.person()
            course_id, course_name, _ = row.course()
            status = row.status(required=False)
            percent = r.take("percent", parse_percent)
            modified, submitted, reviewed = row.date("modified"), row.date("submitted"), row.date("reviewed")
            when = modified or submitted or reviewed
            if status == "complete":
                percent = 100.0
            elif percent is None and status == "not_started":
                percent = 0.0
            if percent is None and "percent" not in r.failed:
                r.fail("percent", "a value is required (or a status of Completed or Not started)")
            if when is None and not r.failed & {"modified", "submitted", "reviewed"}:
                r.fail("modified", "a progress record needs a LastModified, SubmittedDate or ReviewDate")
            if not r.ok:
                rows.append(r.error())
                continue
            rows.append(Progress(NAME, person, course_id, course_name, percent, when, source.where))
        return Parsed(tuple(rows), table.ignored_columns, _page_notice(dict(table.envelope)))

    def parse_credentials(self, raw: RawExport) -> Parsed:
        table = read_table(raw, BADGES)
        rows: list[ParsedRow] = []
        for source in table.rows:
            row = _Row(source, raw.format)
            r = row.r
            person = row.person()
            assertion_id = r.take("assertion_id", identifier)
            badge_id = r.take("badge_id", identifier)
            name = r.take("badge_name", text, required=True)
            issued_at = row.date("issued")
            expires_at = row.date("expires")
            link = r.take("url", url)
            if assertion_id is None and badge_id is None and not r.failed & {"assertion_id", "badge_id"}:
                r.fail("assertion_id", "an AssertionId or BadgeId is required")
            if issued_at is None and "issued" not in r.failed:
                r.fail("issued", "a value is required")
            if issued_at and expires_at and expires_at <= issued_at:
                r.fail("expires", "the badge expires before it was issued")
            if not r.ok:
                rows.append(r.error())
                continue
            # One award of a badge per person when there is no assertion id.
            native_id = assertion_id or f"{badge_id}/{person}"
            rows.append(Credential(NAME, person, native_id, name, issued_at, expires_at, link, where=source.where))
        return Parsed(tuple(rows), table.ignored_columns, _page_notice(dict(table.envelope)))


ADAPTER = ItslearningAdapter()

"""Pure upskilling logic, no I/O.

Consumes: values read from a provider's export by an adapter (providers/*.py).
Produces: normalised records (`Completion`, `Credential`, `Progress`), one outcome per
source row (`Skipped`, `RowError` for the rest), the course category rule, the stable
identities that make re-imports no-ops, the import plan for progress, the event payloads,
and the import report.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Any

from summit_common import imports
from summit_common.imports import FieldError, ImportRejected

PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # the ExternalRef.system rule
CATEGORIES = ("language", "digital", "professional")
KINDS = ("completions", "credentials", "progress")
MAX_ID = 200  # NonEmpty in the contracts
MAX_NAME = 200
MAX_URL = 2000
MAX_CREDITS = 1000.0
PLAUSIBLE_YEARS = imports.PLAUSIBLE_YEARS

COMPLETED = "upskilling.course.completed.v1"
CREDENTIAL_ISSUED = "upskilling.credential.issued.v1"
PROGRESS_UPDATED = "upskilling.progress.updated.v1"
EMITS = (COMPLETED, CREDENTIAL_ISSUED, PROGRESS_UPDATED)


# --- errors and locations ---------------------------------------------------------------


ExportRejected = ImportRejected  # the export as a whole cannot be imported (nothing is stored): a 422


@dataclass(frozen=True, order=True)
class Where:
    """Where a record came from: the physical CSV line (header = line 1) or the JSON array index (0-based)."""

    line: int | None = None
    index: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return {"line": self.line, "index": self.index}


@dataclass(frozen=True)
class Issue:
    field: str | None  # the column / key as the provider names it; None for a whole-row problem
    reason: str


# --- records: exactly one of these per source row ---------------------------------------


@dataclass(frozen=True)
class Completion:
    provider: str
    participant_id: str
    course_id: str
    course_name: str
    completed_at: datetime
    category: str | None = None
    score: float | None = None  # percent, 0..100
    credits: float | None = None  # e.g. eCornell CEUs
    certificate_id: str | None = None
    where: Where = field(default=Where(), compare=False)

    @property
    def completion_id(self) -> str:
        return record_id(self.provider, self.participant_id, self.course_id)


@dataclass(frozen=True)
class Credential:
    provider: str
    participant_id: str
    native_id: str  # the provider's certificate / badge assertion id
    name: str
    issued_at: datetime
    expires_at: datetime | None = None
    url: str | None = None
    credits: float | None = None
    where: Where = field(default=Where(), compare=False)

    @property
    def credential_id(self) -> str:
        return record_id(self.provider, self.native_id)


@dataclass(frozen=True)
class Progress:
    provider: str
    participant_id: str
    course_id: str
    course_name: str
    percent_complete: float
    updated_at: datetime
    where: Where = field(default=Where(), compare=False)

    @property
    def progress_id(self) -> str:
        return record_id(self.provider, self.participant_id, self.course_id)


@dataclass(frozen=True)
class Skipped:
    """A valid row that carries nothing to import (e.g. an 'Incomplete' course in a completions export)."""

    reason: str
    where: Where = field(default=Where(), compare=False)


@dataclass(frozen=True)
class RowError:
    """An invalid row: every problem found in it."""

    issues: tuple[Issue, ...]
    where: Where = field(default=Where(), compare=False)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [{**self.where.as_dict(), "field": i.field, "reason": i.reason} for i in self.issues]


Record = Completion | Credential | Progress
ParsedRow = Completion | Credential | Progress | Skipped | RowError


# --- identities ---------------------------------------------------------------------------


def record_id(provider: str, *parts: str) -> str:
    """A stable id for a record: '<provider>:<part>:<part>...' while it fits the 200-character
    limit of the contracts, else '<provider>:sha256:<hex>' of the same parts. Deterministic, so
    re-importing the same export finds the same rows. ':' inside a part is escaped so that
    ('a:b', 'c') and ('a', 'b:c') never collide."""
    escaped = [p.replace("%", "%25").replace(":", "%3A") for p in parts]
    readable = ":".join([provider, *escaped])
    if len(readable) <= MAX_ID:
        return readable
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{provider}:sha256:{digest}"


def participant_ref(provider: str, participant_id: str) -> dict[str, str]:
    """Participants are ExternalRef(system=<provider>, id=<the provider's learner id>)."""
    return {"system": provider, "id": participant_id}


# --- value normalisers ------------------------------------------------------------------


def clean(value: Any) -> str | None:
    """Trim whitespace (including non-breaking spaces), NFC; empty becomes None. Numbers become text."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return imports.clean(value)


def key(value: str) -> str:
    """Lookup key for header names and status words: case-folded, only letters and digits kept.
    'Course Code', 'course_code', 'CourseCode' and 'COURSE-CODE' are the same key."""
    text = unicodedata.normalize("NFC", value).casefold()
    return "".join(c for c in text if c.isalnum())


def words(value: str) -> str:
    """Case-folded, separators as single spaces: 'Not_Completed ' -> 'not completed'."""
    text = unicodedata.normalize("NFC", value).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


def identifier(value: str, *, limit: int = MAX_ID) -> str:
    return imports.check_identifier(value, limit)


def text(value: str, *, limit: int = MAX_NAME) -> str:
    value = " ".join(value.split())
    if len(value) > limit:
        raise FieldError(f"is longer than {limit} characters")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise FieldError("contains control characters")
    return value


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email(value: str) -> str:
    """An e-mail used as a learner id: lower-cased, so 'Ana@X.org' and 'ana@x.org' are one learner."""
    if not _EMAIL.match(value) or len(value) > MAX_ID:
        raise FieldError(f"{value!r} is not an e-mail address")
    return value.lower()


def url(value: str) -> str:
    if len(value) > MAX_URL:
        raise FieldError(f"is longer than {MAX_URL} characters")
    if not re.match(r"^https?://[^\s/]+\S*$", value, re.IGNORECASE):
        raise FieldError(f"{value!r} is not an http(s) URL")
    return value


zone = imports.zone


# .NET / WCF JSON dates, as older itslearning services serialise them: /Date(1710513000000+0100)/.
# The number is milliseconds since the Unix epoch in UTC; the offset only says which zone to show.
_DOTNET_DATE = re.compile(r"^/Date\((-?\d{1,15})([+-]\d{4})?\)/$")


def _human(fmt: str) -> str:
    for code, shown in (("%d", "DD"), ("%m", "MM"), ("%Y", "YYYY"), ("%y", "YY"), ("%H", "HH"), ("%I", "hh"),
                        ("%M", "mm"), ("%S", "ss"), ("%p", "AM/PM")):
        fmt = fmt.replace(code, shown)
    return fmt


def parse_datetime(value: str, *, formats: Sequence[str] = (), timezone: str = "UTC") -> datetime:
    """ISO 8601, the /Date(ms)/ form, then `formats` (strptime). A value without an offset is in
    `timezone`; a date without a time is midnight there. The result is UTC."""
    raw = value.strip()
    parsed: datetime | None = None
    if match := _DOTNET_DATE.match(raw):
        try:
            parsed = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match.group(1)))
        except OverflowError:
            raise FieldError(f"{value!r} is out of range") from None
    else:
        parsed = imports.parse_iso_or_formats(raw, formats)
    if parsed is None:
        expected = ", ".join(["ISO 8601", *(_human(f) for f in formats)])
        raise FieldError(f"{value!r} is not a date in a known format ({expected})")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(timezone))
    return imports.plausible_utc(parsed, value, PLAUSIBLE_YEARS)


def local_midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone(timezone)).astimezone(UTC)


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def parse_number(value: str) -> float:
    """A decimal number; a decimal comma ('42,5', as Norwegian exports write it) is accepted.
    Thousands separators are not: '1,234.5' is ambiguous and refused."""
    raw = value.strip().replace("\u00a0", "").replace(" ", "")
    if "," in raw:
        if "." in raw or raw.count(",") > 1:
            raise FieldError(f"{value!r} is not a number (use one decimal separator, no thousands separator)")
        raw = raw.replace(",", ".")
    if not _NUMBER.match(raw):
        raise FieldError(f"{value!r} is not a number")
    number = float(raw)
    if not math.isfinite(number):
        raise FieldError(f"{value!r} is not a number")
    return number


def parse_percent(value: str) -> float:
    """0..100, with or without a '%' sign: '45', '45 %', '45,5%'."""
    raw = value.strip()
    if raw.endswith("%"):
        raw = raw[:-1]
    number = parse_number(raw)
    if not 0 <= number <= 100:
        raise FieldError(f"{value!r} is not a percentage between 0 and 100")
    return round(number, 2)


def score_percent(points: float, max_points: float | None) -> float:
    """Points as a percentage of the maximum; without a maximum the points must already be a percentage."""
    if points < 0:
        raise FieldError(f"a score cannot be negative ({points:g})")
    if max_points is None:
        if points > 100:
            raise FieldError(f"score {points:g} is above 100 and no maximum score is given")
        return round(points, 2)
    if max_points <= 0:
        raise FieldError(f"the maximum score must be positive ({max_points:g})")
    if points > max_points:
        raise FieldError(f"score {points:g} is above the maximum score {max_points:g}")
    return round(points * 100 / max_points, 2)


def parse_credits(value: str) -> float:
    number = parse_number(value)
    if not 0 <= number <= MAX_CREDITS:
        raise FieldError(f"{value!r} is not a credit amount between 0 and {MAX_CREDITS:g}")
    return round(number, 2)


# --- the category rule --------------------------------------------------------------------

# Course-code prefixes: the letters before the first digit or separator, compared whole
# ('ESL101' -> 'esl', 'NOR-A2' -> 'nor', 'nyn01' -> 'nyn'). Generic ones here; an adapter
# adds the codes of its provider (e.g. eCornell's 'ILRHR' school codes).
CATEGORY_CODES: dict[str, frozenset[str]] = {
    "language": frozenset({"esl", "efl", "lang", "nor", "norsk", "nyn", "nob", "sfi", "sprak", "språk"}),
    "digital": frozenset({"cis", "cs", "dig", "data", "ict", "ikt", "cyber", "prog", "web"}),
    "professional": frozenset({"hr", "lead", "mgmt", "bus"}),
}
# Whole words (or phrases) in the course name. Checked after the code, in the same order.
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "language": (
        "language", "languages", "english", "esl", "efl", "ielts", "toefl", "norwegian", "norsk", "nynorsk",
        "bokmål", "bokmal", "swedish", "svenska", "danish", "dansk", "german", "deutsch", "french", "spanish",
        "arabic", "ukrainian", "polish", "cefr", "språk", "språkkurs", "norskopplæring", "norskkurs", "grammar",
        "vocabulary", "pronunciation",
    ),
    "digital": (
        "digital", "data", "python", "excel", "sql", "programming", "coding", "software", "developer", "cyber",
        "cybersecurity", "cyber security", "cloud", "web", "javascript", "java", "computer", "computing", "ai",
        "artificial intelligence", "machine learning", "analytics", "information technology", "it support",
        "ikt", "digitale", "automation",
    ),
    "professional": (
        "leadership", "leading", "management", "manager", "managing", "hr", "human resources", "project",
        "communication", "negotiation", "marketing", "finance", "financial", "accounting", "business", "career",
        "strategy", "strategic", "hospitality", "entrepreneurship", "sales", "customer", "teamwork", "writing",
        "presentation", "diversity", "inclusion", "ledelse", "arbeidsliv", "jobbsøking", "cv",
    ),
}
_CODE_LETTERS = re.compile(r"^[^\W\d_]+")


def code_letters(course_code: str) -> str | None:
    match = _CODE_LETTERS.match(unicodedata.normalize("NFC", course_code.strip()).casefold())
    return match.group(0) if match else None


def categorise(
    course_code: str | None, course_name: str | None, *, extra_codes: Mapping[str, Iterable[str]] | None = None,
) -> str | None:
    """language | digital | professional | None (unknown), by the documented rule:
    1. language, when the course code's leading letters are a language code ('ESL101', 'NOR-A2',
       'nyn01') or the course name has a language keyword as whole words ('Business English',
       'Norsk for helsearbeidere'): language courses drive the profile's
       has_completed_language_course flag, so a language mention anywhere wins;
    2. else the category of the course code's leading letters ('CIS531' digital, 'ILRHR520'
       professional; generic codes plus the adapter's `extra_codes`);
    3. else the first of digital, professional with a keyword in the course name
       ('Python for Data Analysis' digital, 'Leading Teams' professional);
    4. else None: the category is unknown (the event's category is optional)."""
    letters = code_letters(course_code) if course_code else None
    name_words = f" {words(course_name)} " if course_name else ""

    def code_is(category: str) -> bool:
        extra = {c.casefold() for c in (extra_codes or {}).get(category, ())}
        return letters is not None and letters in CATEGORY_CODES[category] | extra

    def name_has(category: str) -> bool:
        return any(f" {words(k)} " in name_words for k in CATEGORY_KEYWORDS[category])

    if code_is("language") or name_has("language"):
        return "language"
    for category in ("digital", "professional"):
        if code_is(category):
            return category
    for category in ("digital", "professional"):
        if name_has(category):
            return category
    return None


# --- import planning ----------------------------------------------------------------------


class Outcome(Enum):
    ACCEPTED = "accepted"  # stored something new (and emitted its event)
    DUPLICATE = "duplicate"  # already stored (or earlier in the same file), or older news
    SKIPPED = "skipped"  # a valid row with nothing to import
    REJECTED = "rejected"  # invalid


def first_occurrences(records: Iterable[Completion | Credential]) -> dict[str, Completion | Credential]:
    """Identity -> the first record with it (the first one in a file wins, as the first one stored does)."""
    found: dict[str, Completion | Credential] = {}
    for record in records:
        ident = record.completion_id if isinstance(record, Completion) else record.credential_id
        found.setdefault(ident, record)
    return found


@dataclass(frozen=True)
class StoredProgress:
    percent_complete: float
    updated_at: datetime


class ProgressChange(Enum):
    NEW = "new"  # nothing stored yet: store, announce
    CHANGED = "changed"  # newer news with another percentage: store, announce
    TOUCHED = "touched"  # newer news, same percentage: store the newer time, announce nothing
    STALE = "stale"  # same or older news: nothing


def progress_change(stored: StoredProgress | None, new: Progress) -> ProgressChange:
    """What a progress row does to what we know. The stored state is always the latest news, so
    a re-import changes nothing and an old export can never roll progress back; an event is
    emitted only when the percentage changes (or is first known)."""
    if stored is None:
        return ProgressChange.NEW
    if new.updated_at <= stored.updated_at:
        return ProgressChange.STALE
    if new.percent_complete != stored.percent_complete:
        return ProgressChange.CHANGED
    return ProgressChange.TOUCHED


def plan_progress(rows: Sequence[Progress], stored: Mapping[str, StoredProgress]) -> tuple[list[bool], dict[str, Progress]]:
    """Decide each row in file order, as if earlier rows were applied first.
    Returns (announce? per row, progress_id -> the final row to store, for the ids that change)."""
    state = dict(stored)
    announce: list[bool] = []
    final: dict[str, Progress] = {}
    for row in rows:
        change = progress_change(state.get(row.progress_id), row)
        if change is not ProgressChange.STALE:
            state[row.progress_id] = StoredProgress(row.percent_complete, row.updated_at)
            final[row.progress_id] = row
        announce.append(change in (ProgressChange.NEW, ProgressChange.CHANGED))
    return announce, final


# --- event payloads -----------------------------------------------------------------------


def completed_event(c: Completion) -> dict[str, Any]:
    return {
        "completion_id": c.completion_id,
        "participant": participant_ref(c.provider, c.participant_id),
        "provider": c.provider,
        "course_id": c.course_id,
        "course_name": c.course_name,
        "category": c.category,
        "completed_at": c.completed_at.isoformat(),
        "score": c.score,
    }


def credential_event(c: Credential) -> dict[str, Any]:
    return {
        "credential_id": c.credential_id,
        "participant": participant_ref(c.provider, c.participant_id),
        "provider": c.provider,
        "name": c.name,
        "issued_at": c.issued_at.isoformat(),
        "expires_at": c.expires_at.isoformat() if c.expires_at else None,
        "url": c.url,
    }


def progress_event(p: Progress) -> dict[str, Any]:
    return {
        "participant": participant_ref(p.provider, p.participant_id),
        "provider": p.provider,
        "course_id": p.course_id,
        "percent_complete": p.percent_complete,
        "updated_at": p.updated_at.isoformat(),
    }


# --- the import report --------------------------------------------------------------------


def outcome_of_parse(row: ParsedRow) -> Outcome | None:
    """The outcome a parsed row has before storage (None: storage decides)."""
    if isinstance(row, RowError):
        return Outcome.REJECTED
    if isinstance(row, Skipped):
        return Outcome.SKIPPED
    return None


def build_report(
    *, import_id: str, kind: str, provider: str, export_format: str, filename: str | None,
    rows: Sequence[ParsedRow], outcomes: Sequence[Outcome], emitted: Mapping[str, int],
    notices: Sequence[str] = (), ignored_columns: Sequence[str] = (), created_at: datetime,
) -> dict[str, Any]:
    """One entry per source row: rows_total = accepted + duplicates + skipped + rejected."""
    if len(rows) != len(outcomes):
        raise ValueError("one outcome per row")
    counts = {o: sum(1 for x in outcomes if x is o) for o in Outcome}
    errors = [e for r in rows if isinstance(r, RowError) for e in r.as_dicts()]
    skipped = [{**r.where.as_dict(), "reason": r.reason} for r in rows if isinstance(r, Skipped)]
    return {
        "import_id": import_id,
        "kind": kind,
        "provider": provider,
        "format": export_format,
        "filename": filename,
        "rows_total": len(rows),
        "accepted": counts[Outcome.ACCEPTED],
        "duplicates": counts[Outcome.DUPLICATE],
        "skipped": counts[Outcome.SKIPPED],
        "rejected": counts[Outcome.REJECTED],
        "errors": errors,
        "skipped_rows": skipped,
        "emitted": {t: n for t, n in sorted(emitted.items()) if n},
        "notices": list(notices),
        "ignored_columns": list(ignored_columns),
        "created_at": created_at.isoformat(),
    }


def content_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()

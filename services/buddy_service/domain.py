"""Pure buddy-programme logic, no I/O.

Consumes: CSV text or JSON records of four kinds (matches, events, checkins, feedback).
Produces: validated records (`Match`, `Activity`, `Checkin`, `Feedback`), row-level
`RowError`s, an import plan (created / duplicate / rejected per record, checked against
what is stored and against the matches the records refer to), the report of an import,
and the buddy.* event payloads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from summit_common import imports
from summit_common.imports import FieldError, ImportRejected  # FieldError messages never echo free text

MATCHES, EVENTS, CHECKINS, FEEDBACK = "matches", "events", "checkins", "feedback"
KINDS = (MATCHES, EVENTS, CHECKINS, FEEDBACK)  # also the order a multi-kind import applies them in
BUDDY_SYSTEM = "buddy"
ROLES = ("participant", "buddy")

MAX_ID = 200  # event ids and NonEmpty contract fields are capped at 200 characters
MAX_PROGRAM = 100
MAX_CATEGORY = 50
MAX_TEXT = 10_000
MAX_DURATION_MINUTES = 24 * 60
PLAUSIBLE_YEARS = imports.PLAUSIBLE_YEARS
# Activities, check-ins and feedback are things that happened: a time more than this far
# ahead of the server clock is a typo (a day of slack covers time zones and clock skew).
FUTURE_TOLERANCE = timedelta(days=1)
# ...and they happen after the match was made; a day of slack covers date-only exports.
BEFORE_MATCH_GRACE = timedelta(days=1)
DATETIME_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y")


# --- errors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    kind: str
    line: int | None  # CSV: the physical line the row starts on (the header is line 1)
    index: int | None  # JSON: the record's position in the array (0-based)
    field: str | None  # None for a whole-row problem
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "line": self.line, "index": self.index, "field": self.field, "reason": self.reason}


class RowInvalid(ValueError):
    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__("; ".join(f"{e.field or 'row'}: {e.reason}" for e in errors))
        self.errors = tuple(errors)


# --- value normalisers ------------------------------------------------------------------


clean = imports.clean
_key = imports.lookup_key


def zone(name: str) -> ZoneInfo:
    return imports.zone(name, hint=" (use an IANA name such as Europe/Oslo)")


def parse_identifier(value: str) -> str:
    return imports.check_identifier(value, MAX_ID)


def parse_datetime(value: str, timezone: str = "UTC") -> datetime:
    """ISO 8601 first, then DD/MM/YYYY or DD.MM.YYYY (with optional HH:MM). No offset -> `timezone`. Result is UTC."""
    parsed = imports.parse_iso_or_formats(value.strip(), DATETIME_FORMATS)
    if parsed is None:
        raise FieldError(f"{value!r} is not a date-time (expected ISO 8601, DD/MM/YYYY HH:MM or DD.MM.YYYY)")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(timezone))
    return imports.plausible_utc(parsed, value, PLAUSIBLE_YEARS)


_MINUTES = re.compile(r"^(\d+)(?:\.0+)?\s*(?:m|min|mins|minute|minutes)?$", re.IGNORECASE)
_HOURS_MINUTES = re.compile(r"^(\d{1,2}):([0-5]\d)$")
_HOURS = re.compile(r"^(\d{1,2})\s*(?:h|hr|hrs|hour|hours)(?:\s*([0-5]?\d)\s*(?:m|min|mins|minutes)?)?$", re.IGNORECASE)


def parse_duration(value: str) -> int:
    """Whole minutes: '90', '90 min', '1:30', '2h', '1h30', '1 h 30 min'."""
    text = value.strip()
    if match := _MINUTES.match(text):
        minutes = int(match.group(1))
    elif match := _HOURS_MINUTES.match(text):
        minutes = int(match.group(1)) * 60 + int(match.group(2))
    elif match := _HOURS.match(text):
        minutes = int(match.group(1)) * 60 + int(match.group(2) or 0)
    else:
        raise FieldError(f"{value!r} is not a duration (e.g. 90, '90 min', '1:30' or '1h30')")
    if minutes > MAX_DURATION_MINUTES:
        raise FieldError(f"{minutes} minutes is longer than a day")
    return minutes


_SCORE = re.compile(r"^(\d+)(?:\.0+)?(?:\s*/\s*5)?$")


def parse_score(value: str) -> int:
    """A whole number from 1 to 5; '4/5' is accepted."""
    match = _SCORE.match(value.strip())
    if not match or not 1 <= int(match.group(1)) <= 5:
        raise FieldError(f"{value!r} is not a whole number from 1 to 5")
    return int(match.group(1))


_CATEGORY_SYNONYMS = {
    "culture": "cultural",
    "cultural": "cultural",
    "cultural event": "cultural",
    "museum": "cultural",
    "concert": "cultural",
    "sport": "sport",
    "sports": "sport",
    "football": "sport",
    "language cafe": "language_cafe",
    "language café": "language_cafe",
    "språkkafé": "language_cafe",
    "språkkafe": "language_cafe",
    "sprakkafe": "language_cafe",
    "outdoor": "outdoor",
    "outdoors": "outdoor",
    "hike": "outdoor",
    "hiking": "outdoor",
    "walk": "outdoor",
    "social": "social",
    "coffee": "social",
    "dinner": "social",
    "meal": "social",
    "practical": "practical",
    "practical help": "practical",
    "paperwork": "practical",
}
_SLUG_JUNK = re.compile(r"[\W_]+")


def normalise_category(value: str) -> str:
    """Known names map to a canonical category (cultural, sport, language_cafe, outdoor, social,
    practical); any other name becomes a lower-case slug ('Board Games' -> board_games; letters of
    any script are kept), so programmes can use their own. Normalising twice changes nothing."""
    key = _key(value)
    if key in _CATEGORY_SYNONYMS:
        return _CATEGORY_SYNONYMS[key]
    slug = _SLUG_JUNK.sub("_", key).strip("_")
    if not any(c.isalpha() for c in slug):
        raise FieldError(f"{value!r} is not a usable category (it needs letters, e.g. cultural or sport)")
    slug = _CATEGORY_SYNONYMS.get(slug.replace("_", " "), slug)
    if len(slug) > MAX_CATEGORY:
        raise FieldError(f"is longer than {MAX_CATEGORY} characters")
    return slug


_ROLE_SYNONYMS = {
    "participant": "participant",
    "newcomer": "participant",
    "mentee": "participant",
    "learner": "participant",
    "deltaker": "participant",
    "buddy": "buddy",
    "volunteer": "buddy",
    "mentor": "buddy",
    "frivillig": "buddy",
}


def normalise_role(value: str) -> str:
    found = _ROLE_SYNONYMS.get(_key(value))
    if found is None:
        raise FieldError(f"{value!r} is not a role (expected participant or buddy)")
    return found


def parse_text(value: str) -> str:
    return imports.check_length(value, MAX_TEXT)  # never echoes the text: it may hold personal data


def parse_program(value: str) -> str:
    return imports.check_length(value, MAX_PROGRAM)


# --- records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    match_id: str
    participant_id: str
    buddy_id: str
    matched_at: datetime
    program: str | None = None


@dataclass(frozen=True)
class Activity:
    """A shared activity of a buddy pair (an 'event' in the buddy system's words)."""

    event_id: str
    match_id: str
    category: str
    occurred_at: datetime
    duration_minutes: int | None = None
    participant_id: str | None = None  # as given (optional); the match's participant once planned


@dataclass(frozen=True)
class Checkin:
    checkin_id: str
    match_id: str
    completed_at: datetime
    mood: int | None = None
    notes: str | None = None
    participant_id: str | None = None


@dataclass(frozen=True)
class Feedback:
    feedback_id: str
    match_id: str
    from_role: str
    submitted_at: datetime
    rating: int | None = None
    text: str | None = None
    participant_id: str | None = None


Record = Match | Activity | Checkin | Feedback


def record_id(record: Record) -> str:
    return getattr(record, SPECS[kind_of(record)].id_field)


def kind_of(record: Record) -> str:
    return _KIND_OF[type(record)]


def derive_id(prefix: str, *parts: str) -> str:
    """A stable id for a record whose export has no id column: the same fact always gets the same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
    return f"{prefix}-{digest}"


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


# --- validators, one per kind -------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a validator needs besides the values: the zone for naive times, the clock, where the row is."""

    now: datetime
    timezone: str = "UTC"
    line: int | None = None
    index: int | None = None


class _Reader:
    """Collects every problem of one row instead of stopping at the first."""

    def __init__(self, kind: str, values: Mapping[str, Any], ctx: Context) -> None:
        self.kind, self.values, self.ctx = kind, values, ctx
        self.errors: list[RowError] = []
        self.failed: set[str] = set()

    def problem(self, name: str | None, reason: str) -> None:
        self.errors.append(RowError(self.kind, self.ctx.line, self.ctx.index, name, reason))
        if name:
            self.failed.add(name)

    def take(self, name: str, parse: Callable[[str], Any], *, required: bool = False) -> Any:
        raw = clean(self.values.get(name))
        if raw is None:
            if required:
                self.problem(name, "a value is required")
            return None
        try:
            return parse(raw)
        except FieldError as exc:
            self.problem(name, str(exc))
            return None

    def when(self, name: str, *, happened: bool = True) -> datetime | None:
        value = self.take(name, lambda v: parse_datetime(v, self.ctx.timezone), required=True)
        if value is not None and happened and value > self.ctx.now + FUTURE_TOLERANCE:
            self.problem(name, f"{_stamp(value)} is in the future; only what already happened can be imported")
            return None
        return value

    def done(self) -> None:
        if self.errors:
            raise RowInvalid(self.errors)


def validate_match(values: Mapping[str, Any], ctx: Context) -> Match:
    r = _Reader(MATCHES, values, ctx)
    match_id = r.take("match_id", parse_identifier, required=True)
    participant_id = r.take("participant_id", parse_identifier, required=True)
    buddy_id = r.take("buddy_id", parse_identifier, required=True)
    # A match can be registered ahead of the first meeting: no future check here.
    matched_at = r.when("matched_at", happened=False)
    program = r.take("program", parse_program)
    if participant_id is not None and participant_id == buddy_id:
        r.problem("buddy_id", "the buddy and the participant are the same person")
    r.done()
    return Match(match_id, participant_id, buddy_id, matched_at, program)


def validate_activity(values: Mapping[str, Any], ctx: Context) -> Activity:
    r = _Reader(EVENTS, values, ctx)
    event_id = r.take("event_id", parse_identifier)
    match_id = r.take("match_id", parse_identifier, required=True)
    category = r.take("category", normalise_category, required=True)
    occurred_at = r.when("occurred_at")
    duration = r.take("duration_minutes", parse_duration)
    participant_id = r.take("participant_id", parse_identifier)
    r.done()
    event_id = event_id or derive_id("EV", match_id, category, _stamp(occurred_at))
    return Activity(event_id, match_id, category, occurred_at, duration, participant_id)


def validate_checkin(values: Mapping[str, Any], ctx: Context) -> Checkin:
    r = _Reader(CHECKINS, values, ctx)
    checkin_id = r.take("checkin_id", parse_identifier)
    match_id = r.take("match_id", parse_identifier, required=True)
    completed_at = r.when("completed_at")
    mood = r.take("mood", parse_score)
    notes = r.take("notes", parse_text)
    participant_id = r.take("participant_id", parse_identifier)
    r.done()
    checkin_id = checkin_id or derive_id("CI", match_id, _stamp(completed_at))
    return Checkin(checkin_id, match_id, completed_at, mood, notes, participant_id)


def validate_feedback(values: Mapping[str, Any], ctx: Context) -> Feedback:
    r = _Reader(FEEDBACK, values, ctx)
    feedback_id = r.take("feedback_id", parse_identifier)
    match_id = r.take("match_id", parse_identifier, required=True)
    from_role = r.take("from_role", normalise_role, required=True)
    submitted_at = r.when("submitted_at")
    rating = r.take("rating", parse_score)
    text = r.take("text", parse_text)
    participant_id = r.take("participant_id", parse_identifier)
    if rating is None and text is None and not r.failed & {"rating", "text"}:
        r.problem("rating", "feedback needs a rating, a text, or both")
    r.done()
    feedback_id = feedback_id or derive_id("FB", match_id, from_role, _stamp(submitted_at))
    return Feedback(feedback_id, match_id, from_role, submitted_at, rating, text, participant_id)


@dataclass(frozen=True)
class KindSpec:
    kind: str
    singular: str  # for messages: "match 'M-1' ..."
    id_field: str
    record_type: type
    validate: Callable[[Mapping[str, Any], Context], Any]
    time_field: str
    # canonical field -> accepted CSV header names (matched case-insensitively; '_', '-', ' ' alike)
    columns: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]
    event_type: str

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.columns)


SPECS: dict[str, KindSpec] = {
    MATCHES: KindSpec(
        MATCHES, "match", "match_id", Match, validate_match, "matched_at",
        {
            "match_id": ("match_id", "match", "pair_id", "id"),
            "participant_id": ("participant_id", "participant", "newcomer_id", "newcomer", "mentee_id"),
            "buddy_id": ("buddy_id", "buddy", "volunteer_id", "volunteer"),
            "matched_at": ("matched_at", "matched_on", "match_date", "matched", "start_date"),
            "program": ("program", "programme", "program_name"),
        },
        ("match_id", "participant_id", "buddy_id", "matched_at"),
        "buddy.match.created.v1",
    ),
    EVENTS: KindSpec(
        EVENTS, "event", "event_id", Activity, validate_activity, "occurred_at",
        {
            "event_id": ("event_id", "activity_id", "id"),
            "match_id": ("match_id", "match", "pair_id"),
            "category": ("category", "activity_type", "type", "activity"),
            "occurred_at": ("occurred_at", "event_date", "activity_date", "date", "held_at"),
            "duration_minutes": ("duration_minutes", "duration", "minutes"),
            "participant_id": ("participant_id", "participant"),
        },
        ("match_id", "category", "occurred_at"),
        "buddy.event.logged.v1",
    ),
    CHECKINS: KindSpec(
        CHECKINS, "check-in", "checkin_id", Checkin, validate_checkin, "completed_at",
        {
            "checkin_id": ("checkin_id", "check_in_id", "id"),
            "match_id": ("match_id", "match", "pair_id"),
            "completed_at": ("completed_at", "checkin_date", "check_in_date", "date"),
            "mood": ("mood", "mood_score", "wellbeing"),
            "notes": ("notes", "note", "comments", "comment"),
            "participant_id": ("participant_id", "participant"),
        },
        ("match_id", "completed_at"),
        "buddy.checkin.completed.v1",
    ),
    FEEDBACK: KindSpec(
        FEEDBACK, "feedback", "feedback_id", Feedback, validate_feedback, "submitted_at",
        {
            "feedback_id": ("feedback_id", "id"),
            "match_id": ("match_id", "match", "pair_id"),
            "from_role": ("from_role", "role", "given_by", "from"),
            "rating": ("rating", "score", "stars"),
            "text": ("text", "feedback", "feedback_text", "comment", "comments"),
            "submitted_at": ("submitted_at", "submitted", "date", "created_at"),
            "participant_id": ("participant_id", "participant"),
        },
        ("match_id", "from_role", "submitted_at"),
        "buddy.feedback.submitted.v1",
    ),
}
_KIND_OF = {spec.record_type: kind for kind, spec in SPECS.items()}
EMITS = tuple(spec.event_type for spec in SPECS.values())


def validate(kind: str, values: Mapping[str, Any], ctx: Context) -> Record:
    """Raw values (canonical field names) to a validated record; RowInvalid lists every bad field."""
    return SPECS[kind].validate(values, ctx)


def canonical_values(record: Record) -> dict[str, str]:
    """A record as canonical raw values: `validate(kind, canonical_values(r), ctx) == r`."""
    values = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if value is None:
            continue
        values[f.name] = value.isoformat() if isinstance(value, datetime) else str(value)
    return values


# --- CSV --------------------------------------------------------------------------------


Item = tuple[int | None, int | None, Record]  # (line, index, record)


@dataclass(frozen=True)
class Parsed:
    """One kind's rows after validation, before they are checked against stored data."""

    kind: str
    rows_total: int
    items: tuple[Item, ...]  # valid rows in input order
    errors: tuple[RowError, ...]
    rejected: tuple[tuple[int | None, int | None], ...]  # (line, index) of every invalid row
    ignored_fields: tuple[str, ...] = ()
    filename: str | None = None


decode_csv = imports.decode_utf8


def resolve_columns(kind: str, header: Sequence[str]) -> tuple[dict[str, int], tuple[str, ...]]:
    """Canonical field -> column index, and the header names no field uses."""
    spec = SPECS[kind]
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        key = _key(name)
        if not key:
            continue
        if key in positions:
            raise ImportRejected(f"the header names column {name.strip()!r} twice")
        positions[key] = index
    mapped: dict[str, int] = {}
    for canonical, names in spec.columns.items():
        found = sorted({positions[_key(n)] for n in names if _key(n) in positions})
        if len(found) > 1:
            raise ImportRejected(
                f"more than one column means {canonical!r}: {', '.join(repr(header[i].strip()) for i in found)}"
            )
        if found:
            mapped[canonical] = found[0]
    missing = [c for c in spec.required if c not in mapped]
    if missing:
        described = "; ".join(f"{c} (a column named {' or '.join(repr(n) for n in spec.columns[c])})" for c in missing)
        raise ImportRejected(f"the {kind} CSV is missing required columns: {described}", missing_columns=missing)
    used = set(mapped.values())
    ignored = tuple(header[i].strip() for i in range(len(header)) if i not in used and header[i].strip())
    return mapped, ignored


def parse_csv(kind: str, text: str, ctx: Context, *, filename: str | None = None) -> Parsed:
    """Validate every row. Bad rows become RowErrors (line = the row's first physical line,
    the header is line 1; blank lines are skipped but counted); a file-level problem raises ImportRejected."""
    header, rows = imports.read_csv(text, delimiter=imports.sniff_delimiter(text), what=f"the {kind} CSV")
    columns, ignored = resolve_columns(kind, header)
    items: list[Item] = []
    errors: list[RowError] = []
    rejected: list[tuple[int | None, int | None]] = []
    rows_total = 0
    for line, row in rows:
        rows_total += 1
        if mismatch := imports.width_mismatch(row, header):
            errors.append(RowError(kind, line, None, None, mismatch))
            rejected.append((line, None))
            continue
        values = {canonical: row[i] for canonical, i in columns.items()}
        try:
            items.append((line, None, validate(kind, values, dataclasses.replace(ctx, line=line, index=None))))
        except RowInvalid as exc:
            errors.extend(exc.errors)
            rejected.append((line, None))
    return Parsed(kind, rows_total, tuple(items), tuple(errors), tuple(rejected), ignored, filename)


# --- JSON -------------------------------------------------------------------------------


def _json_values(kind: str, record: Mapping[str, Any], ctx: Context) -> tuple[dict[str, str], set[str]]:
    """A JSON object as raw values for the validator, plus its keys no field uses.
    `participant` / `buddy` may be given as ExternalRef objects of the buddy system."""
    spec = SPECS[kind]
    values: dict[str, str] = {}
    errors: list[RowError] = []
    refs = {"participant": "participant_id", "buddy": "buddy_id"}
    unknown = set()
    for key, value in record.items():
        name = key
        if key in refs and refs[key] in spec.columns:
            name = refs[key]
            if record.get(name) is not None:
                errors.append(RowError(kind, None, ctx.index, name, f"give either {key!r} or {name!r}, not both"))
                continue
            if isinstance(value, Mapping):
                system, ref_id = value.get("system"), value.get("id")
                if system != BUDDY_SYSTEM:
                    errors.append(RowError(kind, None, ctx.index, name,
                                           f"must be a buddy-system id (system {BUDDY_SYSTEM!r}), not {system!r}"))
                    continue
                value = ref_id
        if name not in spec.columns:
            unknown.add(key)
            continue
        if isinstance(value, bool) or isinstance(value, Mapping | list):
            errors.append(RowError(kind, None, ctx.index, name, "must be a string or a number"))
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if value is not None:  # null is the same as absent
            values[name] = str(value)
    if errors:
        raise RowInvalid(errors)
    return values, unknown


def parse_json(kind: str, payload: Any, ctx: Context) -> Parsed:
    """A JSON array of records, or one record. Bad records become RowErrors with their index."""
    if isinstance(payload, Mapping):
        records = [payload]
    elif isinstance(payload, list):
        records = payload
    else:
        raise ImportRejected("the body must be a JSON object (one record) or an array of objects")
    items: list[Item] = []
    errors: list[RowError] = []
    rejected: list[tuple[int | None, int | None]] = []
    ignored: set[str] = set()
    for index, record in enumerate(records):
        here = dataclasses.replace(ctx, line=None, index=index)
        try:
            if not isinstance(record, Mapping):
                raise RowInvalid([RowError(kind, None, index, None, "each record must be a JSON object")])
            values, unknown = _json_values(kind, record, here)
            ignored |= unknown
            items.append((None, index, validate(kind, values, here)))
        except RowInvalid as exc:
            errors.extend(exc.errors)
            rejected.append((None, index))
    return Parsed(kind, len(records), tuple(items), tuple(errors), tuple(rejected), tuple(sorted(ignored)))


# --- import planning --------------------------------------------------------------------


class Outcome(Enum):
    CREATED = "created"  # new: stored and announced
    DUPLICATE = "duplicate"  # already stored (or earlier in this request) with the same values
    REJECTED = "rejected"  # invalid, refers to an unknown match, or contradicts a stored record


@dataclass(frozen=True)
class Planned:
    kind: str
    line: int | None
    index: int | None
    record: Record | None  # resolved (dependents carry their match's participant); None if invalid
    outcome: Outcome
    errors: tuple[RowError, ...] = ()

    @property
    def record_id(self) -> str | None:
        return None if self.record is None else record_id(self.record)


def differences(a: Record, b: Record) -> list[str]:
    """The fields in which two records of the same kind differ."""
    return [f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)]


def _resolve(record: Record, match: Match | None, *, rejected_match: bool, kind: str, line, index) -> tuple[Record | None, list[RowError]]:
    """Check a dependent record against its match; returns it with the match's participant."""
    spec = SPECS[kind]

    def error(name: str, reason: str) -> RowError:
        return RowError(kind, line, index, name, reason)

    if match is None:
        if rejected_match:
            return None, [error("match_id", f"match {record.match_id!r} was rejected in this import")]
        return None, [error("match_id", f"unknown match {record.match_id!r}: import the match first (or in the same request)")]
    errors = []
    if record.participant_id is not None and record.participant_id != match.participant_id:
        errors.append(error("participant_id", f"{record.participant_id!r} is not the participant of match {match.match_id!r}"))
    happened = getattr(record, spec.time_field)
    if happened < match.matched_at - BEFORE_MATCH_GRACE:
        errors.append(error(spec.time_field, f"{_stamp(happened)} is before match {match.match_id!r} was made ({_stamp(match.matched_at)})"))
    if errors:
        return None, errors
    return dataclasses.replace(record, participant_id=match.participant_id), []


def plan(
    kind: str,
    items: Iterable[Item],
    *,
    stored: Mapping[str, Record],
    matches: Mapping[str, Match] | None = None,
    rejected_matches: Iterable[str] = (),
) -> list[Planned]:
    """Decide each record in input order, as if earlier ones were already applied.

    `stored`: records of this kind already stored under the ids in `items`.
    `matches`: for events, check-ins and feedback, the tenant's matches they refer to
    (stored, or created earlier in the same request); `rejected_matches` are match ids
    rejected in the same request (for a clearer reason).

    A record's id is its identity: the same id with the same values is a duplicate, with
    different values it is rejected (imported records are facts, not changed by a re-import)."""
    spec = SPECS[kind]
    known: dict[str, tuple[Record, int | None, int | None]] = {rid: (rec, None, None) for rid, rec in stored.items()}
    rejected_set = set(rejected_matches)
    steps: list[Planned] = []
    for line, index, record in items:
        if kind != MATCHES:
            match = (matches or {}).get(record.match_id)
            resolved, errors = _resolve(record, match, rejected_match=record.match_id in rejected_set, kind=kind,
                                        line=line, index=index)
            if resolved is None:
                steps.append(Planned(kind, line, index, record, Outcome.REJECTED, tuple(errors)))
                continue
            record = resolved
        rid = record_id(record)
        if rid in known:
            earlier, earlier_line, earlier_index = known[rid]
            diff = differences(earlier, record)
            if not diff:
                steps.append(Planned(kind, line, index, record, Outcome.DUPLICATE))
                continue
            where = ("line " + str(earlier_line)) if earlier_line else ("index " + str(earlier_index)) if earlier_index is not None else None
            source = f"earlier in this import ({where})" if where else "already imported"
            reason = (f"{spec.singular} {rid!r} is {source} with a different {', '.join(diff)};"
                      " an imported record is not changed by a re-import")
            steps.append(Planned(kind, line, index, record, Outcome.REJECTED,
                                 (RowError(kind, line, index, spec.id_field, reason),)))
            continue
        known[rid] = (record, line, index)
        steps.append(Planned(kind, line, index, record, Outcome.CREATED))
    return steps


def invalid_steps(parsed: Parsed) -> list[Planned]:
    """The rows that failed validation, as planned outcomes (for the report)."""
    by_loc: dict[tuple[int | None, int | None], list[RowError]] = {}
    for error in parsed.errors:
        by_loc.setdefault((error.line, error.index), []).append(error)
    return [Planned(parsed.kind, line, index, None, Outcome.REJECTED, tuple(by_loc.get((line, index), ())))
            for line, index in parsed.rejected]


# --- the report -------------------------------------------------------------------------


def _position(step: Planned) -> tuple[int, int]:
    return (step.line if step.line is not None else -1, step.index if step.index is not None else -1)


def section_report(parsed: Parsed, steps: Sequence[Planned]) -> dict[str, Any]:
    """Counts of one kind's rows. `steps` covers every row: planned ones and invalid ones."""
    count = {o: sum(1 for s in steps if s.outcome is o) for o in Outcome}
    return {
        "kind": parsed.kind,
        "filename": parsed.filename,
        "rows_total": parsed.rows_total,
        "accepted": count[Outcome.CREATED],
        "rejected": count[Outcome.REJECTED],
        "duplicates": count[Outcome.DUPLICATE],
        "ignored_fields": list(parsed.ignored_fields),
    }


def build_report(
    *, import_id: str, fmt: str, timezone: str, sections: Sequence[tuple[Parsed, Sequence[Planned]]],
    imported_by: str, created_at: datetime,
) -> dict[str, Any]:
    """The import report: totals, one section per kind, every rejected row with its reason,
    and every row's outcome (with the record id, derived ids included)."""
    parts = [section_report(parsed, steps) for parsed, steps in sections]
    errors: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for parsed, steps in sections:
        ordered = sorted(steps, key=_position)
        for step in ordered:
            errors.extend(e.as_dict() for e in step.errors)
            records.append({"kind": parsed.kind, "line": step.line, "index": step.index, "id": step.record_id,
                            "outcome": step.outcome.value})
    return {
        "import_id": import_id,
        "format": fmt,
        "timezone": timezone,
        "rows_total": sum(p["rows_total"] for p in parts),
        "accepted": sum(p["accepted"] for p in parts),
        "rejected": sum(p["rejected"] for p in parts),
        "duplicates": sum(p["duplicates"] for p in parts),
        "sections": parts,
        "errors": errors,
        "records": records,
        "imported_by": imported_by,
        "created_at": created_at.isoformat(),
    }


# --- event payloads ---------------------------------------------------------------------


def ref(buddy_system_id: str) -> dict[str, str]:
    return {"system": BUDDY_SYSTEM, "id": buddy_system_id}


def event_payload(record: Record) -> dict[str, Any]:
    """The data of the buddy.* event announcing a newly stored record (dependents must be planned)."""
    if isinstance(record, Match):
        return {
            "match_id": record.match_id,
            "participant": ref(record.participant_id),
            "buddy": ref(record.buddy_id),
            "matched_at": record.matched_at.isoformat(),
            "program": record.program,
        }
    if record.participant_id is None:
        raise ValueError("plan the record first: its participant comes from its match")
    common = {"match_id": record.match_id, "participant": ref(record.participant_id)}
    if isinstance(record, Activity):
        return {"event_id": record.event_id, **common, "category": record.category,
                "occurred_at": record.occurred_at.isoformat(), "duration_minutes": record.duration_minutes}
    if isinstance(record, Checkin):
        return {"checkin_id": record.checkin_id, **common, "completed_at": record.completed_at.isoformat(),
                "mood": record.mood, "notes": record.notes}
    return {"feedback_id": record.feedback_id, **common, "from_role": record.from_role, "rating": record.rating,
            "text": record.text, "submitted_at": record.submitted_at.isoformat()}


def content_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()

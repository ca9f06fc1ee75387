"""Pure Kintell logic, no I/O.

Consumes: CSV text plus a `MappingProfile`, or a webhook's JSON object.
Produces: normalised `SessionRecord`s (with their `Rating`s), row-level `RowError`s,
an import plan (what is new, what advances a stored session, what is a duplicate),
the event payloads the service emits, and the webhook signature scheme.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from summit_common import imports
from summit_common.imports import FieldError, ImportRejected

SESSION_TYPES = ("language", "mentorship")
STATUSES = ("scheduled", "completed", "cancelled")
CEFR_LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
RATER_ROLES = ("participant", "volunteer")
MAX_DURATION_MINUTES = 24 * 60
# Event ids are capped at 200 characters; a rating id is "<session_id>:<role>".
MAX_SESSION_ID = 180
MAX_REF_ID = 200
MAX_TEXT = 10_000
MAX_TOPIC = 100
PLAUSIBLE_YEARS = imports.PLAUSIBLE_YEARS

REQUIRED_FIELDS = ("session_id", "session_type", "participant_id", "volunteer_id", "start", "status")
OPTIONAL_FIELDS = (
    "end",
    "duration_minutes",
    "language",
    "level",
    "topics",
    "notes",
    "participant_rating",
    "participant_comment",
    "volunteer_rating",
    "volunteer_comment",
    "rated_at",
)
FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS


# --- errors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    line: int | None
    field: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


class RowInvalid(ValueError):
    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = tuple(errors)


CsvRejected = ImportRejected  # the file as a whole cannot be imported (nothing is stored)


# --- the mapping profile ----------------------------------------------------------------


@dataclass(frozen=True)
class MappingProfile:
    """How one export format maps onto canonical fields (loaded from mappings/*.yaml)."""

    name: str
    columns: Mapping[str, tuple[str, ...]]  # canonical field -> accepted header names
    description: str = ""
    delimiter: str = ","
    timezone: str = "UTC"  # applied to timestamps that carry no offset
    datetime_formats: tuple[str, ...] = ()  # strptime formats tried after ISO 8601
    topics_separator: str = ";"
    session_type_synonyms: Mapping[str, str] = field(default_factory=dict)
    status_synonyms: Mapping[str, str] = field(default_factory=dict)
    language_synonyms: Mapping[str, str] = field(default_factory=dict)  # extra names -> ISO 639-1
    defaults: Mapping[str, str] = field(default_factory=dict)  # value used when a cell is empty or the column absent


def profile_from_dict(name: str, data: Mapping[str, Any]) -> MappingProfile:
    """Validate a parsed YAML mapping profile. Raises ValueError naming the problem."""
    if not isinstance(data, Mapping):
        raise ValueError(f"mapping {name!r}: expected a mapping at the top level")
    unknown_keys = set(data) - {
        "description", "delimiter", "timezone", "datetime_formats", "topics_separator", "columns",
        "session_type_synonyms", "status_synonyms", "language_synonyms", "defaults",
    }
    if unknown_keys:
        raise ValueError(f"mapping {name!r}: unknown keys {sorted(unknown_keys)}")
    raw_columns = data.get("columns") or {}
    columns: dict[str, tuple[str, ...]] = {}
    for canonical, headers in raw_columns.items():
        if canonical not in FIELDS:
            raise ValueError(f"mapping {name!r}: {canonical!r} is not a canonical field ({', '.join(FIELDS)})")
        names = (headers,) if isinstance(headers, str) else tuple(headers or ())
        if not names or not all(isinstance(h, str) and h.strip() for h in names):
            raise ValueError(f"mapping {name!r}: column {canonical!r} needs one or more header names")
        columns[canonical] = tuple(h.strip() for h in names)
    defaults = {str(k): str(v) for k, v in (data.get("defaults") or {}).items()}
    for key in defaults:
        if key not in FIELDS:
            raise ValueError(f"mapping {name!r}: default for unknown field {key!r}")
    for required in REQUIRED_FIELDS:
        if required not in columns and required not in defaults:
            raise ValueError(f"mapping {name!r}: required field {required!r} has no column and no default")
    timezone = str(data.get("timezone") or "UTC")
    _zone(timezone)
    delimiter = str(data.get("delimiter") or ",")
    if len(delimiter) != 1:
        raise ValueError(f"mapping {name!r}: delimiter must be one character")
    type_synonyms = {_key(k): str(v) for k, v in (data.get("session_type_synonyms") or {}).items()}
    status_synonyms = {_key(k): str(v) for k, v in (data.get("status_synonyms") or {}).items()}
    language_synonyms = {_key(k): str(v) for k, v in (data.get("language_synonyms") or {}).items()}
    for target in language_synonyms.values():
        if target not in _LANGUAGES:
            raise ValueError(f"mapping {name!r}: language synonym target {target!r} is not a known ISO 639-1 code")
    for target in type_synonyms.values():
        if target not in SESSION_TYPES:
            raise ValueError(f"mapping {name!r}: session type synonym target {target!r} is not one of {SESSION_TYPES}")
    for target in status_synonyms.values():
        if target not in STATUSES:
            raise ValueError(f"mapping {name!r}: status synonym target {target!r} is not one of {STATUSES}")
    return MappingProfile(
        name=name,
        description=str(data.get("description") or ""),
        columns=columns,
        delimiter=delimiter,
        timezone=timezone,
        datetime_formats=tuple(str(f) for f in data.get("datetime_formats") or ()),
        topics_separator=str(data.get("topics_separator") or ";"),
        session_type_synonyms=type_synonyms,
        status_synonyms=status_synonyms,
        language_synonyms=language_synonyms,
        defaults=defaults,
    )


# The profile for already-canonical data: webhook bodies and round-trip tests.
CANONICAL_PROFILE = MappingProfile(name="canonical", columns={f: (f,) for f in FIELDS})


# --- value normalisers ------------------------------------------------------------------


clean = imports.clean
_key = imports.lookup_key


_SESSION_TYPE_SYNONYMS = {
    "language": "language",
    "lang": "language",
    "language session": "language",
    "language practice": "language",
    "language exchange": "language",
    "språk": "language",
    "språkpraksis": "language",
    "mentorship": "mentorship",
    "mentor": "mentorship",
    "mentoring": "mentorship",
    "mentorship session": "mentorship",
    "mentoring session": "mentorship",
    "mentor session": "mentorship",
    "career mentoring": "mentorship",
    "mentorskap": "mentorship",
}

_STATUS_SYNONYMS = {
    "completed": "completed",
    "complete": "completed",
    "done": "completed",
    "finished": "completed",
    "held": "completed",
    "attended": "completed",
    "took place": "completed",
    "scheduled": "scheduled",
    "booked": "scheduled",
    "planned": "scheduled",
    "upcoming": "scheduled",
    "confirmed": "scheduled",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "cancel": "cancelled",
    "no show": "cancelled",
    "noshow": "cancelled",
    "missed": "cancelled",
}


def normalise_session_type(value: str, extra: Mapping[str, str] | None = None) -> str:
    key = _key(value)
    found = (extra or {}).get(key) or _SESSION_TYPE_SYNONYMS.get(key)
    if found is None:
        raise FieldError(f"{value!r} is not a known session type (expected language or mentorship)")
    return found


def normalise_status(value: str, extra: Mapping[str, str] | None = None) -> str:
    key = _key(value)
    found = (extra or {}).get(key) or _STATUS_SYNONYMS.get(key)
    if found is None:
        raise FieldError(f"{value!r} is not a known status (expected completed, scheduled or cancelled)")
    return found


# ISO 639-1 code -> names (English, native) and ISO 639-2/3 codes that mean it.
_LANGUAGES: dict[str, tuple[str, ...]] = {
    "am": ("amharic", "አማርኛ", "amh"),
    "ar": ("arabic", "العربية", "ara"),
    "az": ("azerbaijani", "azərbaycan", "aze"),
    "be": ("belarusian", "беларуская", "bel"),
    "bg": ("bulgarian", "български", "bul"),
    "bn": ("bengali", "bangla", "বাংলা", "ben"),
    "bs": ("bosnian", "bosanski", "bos"),
    "ca": ("catalan", "català", "cat"),
    "cs": ("czech", "čeština", "ces", "cze"),
    "cy": ("welsh", "cymraeg", "cym", "wel"),
    "da": ("danish", "dansk", "dan"),
    "de": ("german", "deutsch", "deu", "ger"),
    "el": ("greek", "ελληνικά", "ell", "gre"),
    "en": ("english", "eng"),
    "es": ("spanish", "español", "espanol", "castilian", "spa"),
    "et": ("estonian", "eesti", "est"),
    "eu": ("basque", "euskara", "eus", "baq"),
    # Dari is a variety of Persian; ISO 639-1 has no separate code for it.
    "fa": ("persian", "farsi", "dari", "فارسی", "fas", "per", "prs"),
    "fi": ("finnish", "suomi", "fin"),
    "fr": ("french", "français", "francais", "fra", "fre"),
    "ga": ("irish", "gaeilge", "gle"),
    "gl": ("galician", "galego", "glg"),
    "ha": ("hausa", "hau"),
    "he": ("hebrew", "עברית", "heb"),
    "hi": ("hindi", "हिन्दी", "hin"),
    "hr": ("croatian", "hrvatski", "hrv"),
    "hu": ("hungarian", "magyar", "hun"),
    "hy": ("armenian", "հայերեն", "hye", "arm"),
    "id": ("indonesian", "bahasa indonesia", "ind"),
    "ig": ("igbo", "ibo"),
    "is": ("icelandic", "íslenska", "isl", "ice"),
    "it": ("italian", "italiano", "ita"),
    "ja": ("japanese", "日本語", "jpn"),
    "ka": ("georgian", "ქართული", "kat", "geo"),
    "kk": ("kazakh", "қазақ", "kaz"),
    "km": ("khmer", "ខ្មែរ", "khm"),
    "ko": ("korean", "한국어", "kor"),
    "ku": ("kurdish", "kurdî", "kurmanji", "sorani", "kur"),
    "lt": ("lithuanian", "lietuvių", "lit"),
    "lv": ("latvian", "latviešu", "lav"),
    "mk": ("macedonian", "македонски", "mkd", "mac"),
    "ms": ("malay", "bahasa melayu", "msa", "may"),
    "my": ("burmese", "myanmar", "mya", "bur"),
    "nb": ("norwegian bokmål", "norwegian bokmal", "bokmål", "bokmal", "nob"),
    "ne": ("nepali", "नेपाली", "nep"),
    "nl": ("dutch", "nederlands", "flemish", "nld", "dut"),
    "nn": ("norwegian nynorsk", "nynorsk", "nno"),
    "no": ("norwegian", "norsk", "nor"),
    "om": ("oromo", "afaan oromoo", "orm"),
    "pa": ("punjabi", "panjabi", "ਪੰਜਾਬੀ", "pan"),
    "pl": ("polish", "polski", "pol"),
    "ps": ("pashto", "pushto", "پښتو", "pus"),
    "pt": ("portuguese", "português", "portugues", "por"),
    "ro": ("romanian", "română", "romana", "ron", "rum"),
    "ru": ("russian", "русский", "rus"),
    "se": ("northern sami", "sami", "davvisámegiella", "sme"),
    "sk": ("slovak", "slovenčina", "slk", "slo"),
    "sl": ("slovenian", "slovene", "slovenščina", "slv"),
    "so": ("somali", "soomaali", "som"),
    "sq": ("albanian", "shqip", "sqi", "alb"),
    "sr": ("serbian", "српски", "srpski", "srp"),
    "sv": ("swedish", "svenska", "swe"),
    "sw": ("swahili", "kiswahili", "swa"),
    "ta": ("tamil", "தமிழ்", "tam"),
    "th": ("thai", "ไทย", "tha"),
    "ti": ("tigrinya", "ትግርኛ", "tir"),
    "tl": ("tagalog", "filipino", "tgl", "fil"),
    "tr": ("turkish", "türkçe", "turkce", "tur"),
    "uk": ("ukrainian", "українська", "ukr"),
    "ur": ("urdu", "اردو", "urd"),
    "uz": ("uzbek", "oʻzbek", "uzb"),
    "vi": ("vietnamese", "tiếng việt", "vie"),
    "yo": ("yoruba", "yor"),
    "zh": ("chinese", "mandarin", "中文", "zho", "chi"),
}
_LANGUAGE_LOOKUP = {_key(name): code for code, names in _LANGUAGES.items() for name in (code, *names)}
_LANGUAGE_TAG = re.compile(r"^([a-z]{2,3})(?:[-_][a-z0-9]{2,8})+$")


def normalise_language(value: str, extra: Mapping[str, str] | None = None) -> str:
    """A language name, ISO 639-1/2/3 code or BCP 47 tag ('en-GB') -> ISO 639-1 code."""
    key = _key(value)
    code = (extra or {}).get(key) or _LANGUAGE_LOOKUP.get(key)
    if code is None:
        tag = _LANGUAGE_TAG.match(value.strip().casefold())
        if tag:
            code = _LANGUAGE_LOOKUP.get(tag.group(1))
    if code is None:
        raise FieldError(f"{value!r} is not a known language name or ISO 639 code")
    return code


def normalise_level(value: str) -> str:
    level = "".join(value.split()).upper()
    if level not in CEFR_LEVELS:
        raise FieldError(f"{value!r} is not a CEFR level (A1, A2, B1, B2, C1 or C2)")
    return level


_zone = imports.zone


def parse_datetime(value: str, formats: Sequence[str] = (), timezone: str = "UTC") -> datetime:
    """ISO 8601 first, then the profile's strptime formats. No offset -> `timezone`. Result is UTC."""
    parsed = imports.parse_iso_or_formats(value.strip(), formats)
    if parsed is None:
        expected = ", ".join(["ISO 8601", *(_human_format(f) for f in formats)])
        raise FieldError(f"{value!r} is not a date-time in a known format ({expected})")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(timezone))
    return imports.plausible_utc(parsed, value, PLAUSIBLE_YEARS)


_MINUTES = re.compile(r"^(\d+)(?:\.0+)?\s*(?:m|min|mins|minute|minutes)?$", re.IGNORECASE)
_HOURS_MINUTES = re.compile(r"^(\d{1,2}):([0-5]\d)$")


def _human_format(fmt: str) -> str:
    """'%d/%m/%Y %H:%M' -> 'DD/MM/YYYY HH:MM' for error messages."""
    for code, shown in (("%d", "DD"), ("%m", "MM"), ("%Y", "YYYY"), ("%H", "HH"), ("%M", "MM"), ("%S", "SS")):
        fmt = fmt.replace(code, shown)
    return fmt


def parse_duration(value: str) -> int:
    """Whole minutes: '45', '45.0', '45 min', or 'H:MM'."""
    text = value.strip()
    if match := _MINUTES.match(text):
        minutes = int(match.group(1))
    elif match := _HOURS_MINUTES.match(text):
        minutes = int(match.group(1)) * 60 + int(match.group(2))
    else:
        raise FieldError(f"{value!r} is not a duration in whole minutes (e.g. 45, '45 min' or '0:45')")
    _check_duration(minutes)
    return minutes


def duration_between(start: datetime, end: datetime) -> int:
    """Minutes from start to end, rounded to the nearest minute."""
    if end < start:
        raise FieldError("end is before start")
    minutes = int((end - start).total_seconds() + 30) // 60
    _check_duration(minutes)
    return minutes


def _check_duration(minutes: int) -> None:
    if minutes > MAX_DURATION_MINUTES:
        raise FieldError(f"{minutes} minutes is longer than a day")


def parse_score(value: str) -> int:
    text = value.strip()
    match = re.fullmatch(r"(\d+)(?:\.0+)?", text)
    if not match or not 1 <= int(match.group(1)) <= 5:
        raise FieldError(f"{value!r} is not a rating from 1 to 5")
    return int(match.group(1))


def split_topics(value: str, separator: str = ";") -> tuple[str, ...]:
    topics: list[str] = []
    for part in value.split(separator):
        topic = clean(part)
        if topic is None:
            continue
        if len(topic) > MAX_TOPIC:
            raise FieldError(f"topic {topic[:20]!r}... is longer than {MAX_TOPIC} characters")
        if topic not in topics:
            topics.append(topic)
    return tuple(topics)


def _identifier(limit: int) -> Callable[[str], str]:
    return functools.partial(imports.check_identifier, limit=limit)


def _text(value: str) -> str:
    return imports.check_length(value, MAX_TEXT)


# --- records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rating:
    rating_id: str
    session_id: str
    rater_role: str
    rater_id: str
    score: int
    comment: str | None
    created_at: datetime


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    session_type: str
    status: str
    participant_id: str
    volunteer_id: str
    start: datetime
    duration_minutes: int | None = None
    language: str | None = None
    level: str | None = None
    topics: tuple[str, ...] = ()
    notes: str | None = None
    ratings: tuple[Rating, ...] = ()


def rating_id(session_id: str, rater_role: str) -> str:
    """One rating per rater role per session: CSV and webhook deliveries converge on this id."""
    return f"{session_id}:{rater_role}"


def normalise_row(values: Mapping[str, Any], profile: MappingProfile, *, line: int | None = None) -> SessionRecord:
    """Canonical field -> raw value, to a validated record. Raises RowInvalid listing every bad field."""
    errors: list[RowError] = []
    failed: set[str] = set()

    def take(name: str, parse) -> Any:
        raw = clean(values.get(name))
        if raw is None:
            raw = clean(profile.defaults.get(name))
        if raw is None:
            if name in REQUIRED_FIELDS:
                errors.append(RowError(line, name, "a value is required"))
                failed.add(name)
            return None
        try:
            return parse(raw)
        except FieldError as exc:
            errors.append(RowError(line, name, str(exc)))
            failed.add(name)
            return None

    def when(fmt_value: str) -> datetime:
        return parse_datetime(fmt_value, profile.datetime_formats, profile.timezone)

    session_id = take("session_id", _identifier(MAX_SESSION_ID))
    session_type = take("session_type", lambda v: normalise_session_type(v, profile.session_type_synonyms))
    status = take("status", lambda v: normalise_status(v, profile.status_synonyms))
    participant_id = take("participant_id", _identifier(MAX_REF_ID))
    volunteer_id = take("volunteer_id", _identifier(MAX_REF_ID))
    start = take("start", when)
    end = take("end", when)
    duration = take("duration_minutes", parse_duration)
    language = take("language", lambda v: normalise_language(v, profile.language_synonyms))
    level = take("level", normalise_level)
    topics = take("topics", lambda v: split_topics(v, profile.topics_separator)) or ()
    notes = take("notes", _text)
    rated_at = take("rated_at", when)

    def problem(name: str, reason: str) -> None:
        errors.append(RowError(line, name, reason))
        failed.add(name)

    # The duration column wins over start/end: it is what Kintell reports as the session length.
    if duration is None and start is not None and end is not None:
        try:
            duration = duration_between(start, end)
        except FieldError as exc:
            problem("end", str(exc))
    if status == "completed" and duration is None and not failed & {"duration_minutes", "end", "start"}:
        problem("duration_minutes", "a completed session needs a duration or an end time")
    if session_type == "language" and language is None and "language" not in failed:
        problem("language", "a language session needs a language")

    ratings: list[Rating] = []
    for role, rater in (("participant", participant_id), ("volunteer", volunteer_id)):
        score = take(f"{role}_rating", parse_score)
        comment = take(f"{role}_comment", _text)
        if score is None:
            if comment is not None and f"{role}_rating" not in failed:
                problem(f"{role}_rating", "a comment was given without a rating")
            continue
        if status is not None and status != "completed":
            problem(f"{role}_rating", f"only a completed session can be rated (status is {status})")
            continue
        if errors:
            continue
        created_at = rated_at or start + timedelta(minutes=duration or 0)
        ratings.append(Rating(rating_id(session_id, role), session_id, role, rater, score, comment, created_at))

    if errors:
        raise RowInvalid(errors)
    return SessionRecord(
        session_id=session_id,
        session_type=session_type,
        status=status,
        participant_id=participant_id,
        volunteer_id=volunteer_id,
        start=start,
        duration_minutes=duration,
        language=language,
        level=level,
        topics=topics,
        notes=notes,
        ratings=tuple(ratings),
    )


def canonical_values(record: SessionRecord) -> dict[str, str]:
    """A record as canonical raw values: `normalise_row(canonical_values(r), CANONICAL_PROFILE) == r`."""
    values = {
        "session_id": record.session_id,
        "session_type": record.session_type,
        "status": record.status,
        "participant_id": record.participant_id,
        "volunteer_id": record.volunteer_id,
        "start": record.start.isoformat(),
    }
    optional = {
        "duration_minutes": None if record.duration_minutes is None else str(record.duration_minutes),
        "language": record.language,
        "level": record.level,
        "topics": ";".join(record.topics) or None,
        "notes": record.notes,
    }
    for rating in record.ratings:
        optional[f"{rating.rater_role}_rating"] = str(rating.score)
        optional[f"{rating.rater_role}_comment"] = rating.comment
        optional["rated_at"] = rating.created_at.isoformat()
    values.update({k: v for k, v in optional.items() if v is not None})
    return values


# --- CSV --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedCsv:
    rows_total: int
    records: tuple[tuple[int, SessionRecord], ...]  # (line, record) in file order
    errors: tuple[RowError, ...]
    rejected_lines: frozenset[int]
    ignored_columns: tuple[str, ...]


decode_csv = imports.decode_utf8


def resolve_columns(header: Sequence[str], profile: MappingProfile) -> tuple[dict[str, int], tuple[str, ...]]:
    """Canonical field -> column index. Header names match case-insensitively after trimming."""
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        key = _key(name)
        if key in positions:
            raise CsvRejected(f"the header names column {name.strip()!r} twice")
        positions[key] = index
    mapped: dict[str, int] = {}
    for canonical, names in profile.columns.items():
        found = sorted({positions[_key(n)] for n in names if _key(n) in positions})
        if len(found) > 1:
            raise CsvRejected(f"more than one column maps to {canonical!r}: {', '.join(header[i].strip() for i in found)}")
        if found:
            mapped[canonical] = found[0]
    missing = [
        f"{canonical} (column {' or '.join(repr(n) for n in profile.columns.get(canonical, (canonical,)))})"
        for canonical in REQUIRED_FIELDS
        if canonical not in mapped and canonical not in profile.defaults
    ]
    if missing:
        raise CsvRejected(
            f"the CSV is missing required columns for mapping {profile.name!r}: {', '.join(missing)}",
            missing_columns=[m.split(" ", 1)[0] for m in missing],
        )
    used = set(mapped.values())
    ignored = tuple(header[i].strip() for i in range(len(header)) if i not in used and header[i].strip())
    return mapped, ignored


def parse_csv(text: str, profile: MappingProfile) -> ParsedCsv:
    """Parse and normalise every row. Bad rows become RowErrors (line = the row's first line,
    the header is line 1); a file-level problem raises CsvRejected."""
    header, rows = imports.read_csv(text, delimiter=profile.delimiter)
    columns, ignored = resolve_columns(header, profile)
    records: list[tuple[int, SessionRecord]] = []
    errors: list[RowError] = []
    rejected: set[int] = set()
    rows_total = 0
    for line, row in rows:
        rows_total += 1
        if mismatch := imports.width_mismatch(row, header):
            errors.append(RowError(line, None, mismatch))
            rejected.add(line)
            continue
        values = {canonical: row[index] for canonical, index in columns.items()}
        try:
            records.append((line, normalise_row(values, profile, line=line)))
        except RowInvalid as exc:
            errors.extend(exc.errors)
            rejected.add(line)
    return ParsedCsv(rows_total, tuple(records), tuple(errors), frozenset(rejected), ignored)


# --- webhooks ---------------------------------------------------------------------------


def webhook_session_values(payload: Any) -> dict[str, str | None]:
    """A session webhook body (canonical field names, JSON types) as raw values for normalise_row."""
    if not isinstance(payload, dict):
        raise RowInvalid([RowError(None, None, "the body must be a JSON object")])
    values: dict[str, str | None] = {}
    errors: list[RowError] = []
    for name in FIELDS:
        value = payload.get(name)
        if name == "topics" and isinstance(value, list):
            if not all(isinstance(t, str) for t in value):
                errors.append(RowError(None, name, "topics must be strings"))
                continue
            # ';' separates topics in the canonical form, so it cannot appear inside one.
            value = ";".join(t.replace(";", ",") for t in value)
        if isinstance(value, bool) or isinstance(value, dict | list):
            errors.append(RowError(None, name, "must be a string or a number"))
            continue
        values[name] = None if value is None else str(value)
    if errors:
        raise RowInvalid(errors)
    return values


@dataclass(frozen=True)
class RatingSubmission:
    """A rating webhook before it is checked against the stored session."""

    session_id: str
    rater_role: str
    rater_id: str | None
    score: int
    comment: str | None
    created_at: datetime


def parse_rating_webhook(payload: Any) -> RatingSubmission:
    if not isinstance(payload, dict):
        raise RowInvalid([RowError(None, None, "the body must be a JSON object")])
    errors: list[RowError] = []

    def take(name: str, parse, required: bool = False):
        value = payload.get(name)
        if isinstance(value, bool) or isinstance(value, dict | list):
            errors.append(RowError(None, name, "must be a string or a number"))
            return None
        raw = clean(value)
        if raw is None:
            if required:
                errors.append(RowError(None, name, "a value is required"))
            return None
        try:
            return parse(raw)
        except FieldError as exc:
            errors.append(RowError(None, name, str(exc)))
            return None

    def role(value: str) -> str:
        if value.casefold() not in RATER_ROLES:
            raise FieldError(f"{value!r} is not a rater role (participant or volunteer)")
        return value.casefold()

    session_id = take("session_id", _identifier(MAX_SESSION_ID), required=True)
    rater_role = take("rater_role", role, required=True)
    rater_id = take("rater_id", _identifier(MAX_REF_ID))
    score = take("score", parse_score, required=True)
    comment = take("comment", _text)
    created_at = take("created_at", parse_datetime, required=True)
    if errors:
        raise RowInvalid(errors)
    return RatingSubmission(session_id, rater_role, rater_id, score, comment, created_at)


def rating_for_session(submission: RatingSubmission, session: SessionRecord) -> Rating:
    """Check a submitted rating against the stored session; the rater defaults to the session's person in that role."""
    if session.status != "completed":
        raise FieldError(f"session {session.session_id} is {session.status}; only a completed session can be rated")
    expected = session.participant_id if submission.rater_role == "participant" else session.volunteer_id
    if submission.rater_id is not None and submission.rater_id != expected:
        raise FieldError(f"rater_id does not match the session's {submission.rater_role}")
    return Rating(
        rating_id(session.session_id, submission.rater_role), session.session_id, submission.rater_role,
        expected, submission.score, submission.comment, submission.created_at,
    )


SIGNATURE_SCHEME = "sha256"
SIGNATURE_TOLERANCE_SECONDS = 300
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


class SignatureError(ValueError):
    """The webhook is not authentic or not fresh."""


def valid_tenant(tenant: str | None) -> bool:
    return bool(tenant) and _TENANT.match(tenant) is not None


def signed_message(timestamp: str, tenant: str, body: bytes) -> bytes:
    """What is signed: '<timestamp>.<tenant>.<raw body>'. Neither timestamp (digits) nor tenant contains '.'."""
    return f"{timestamp}.{tenant}.".encode() + body


def sign(secret: str, timestamp: str, tenant: str, body: bytes) -> str:
    """The X-Kintell-Signature header value for a request."""
    digest = hmac.new(secret.encode(), signed_message(timestamp, tenant, body), hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def verify_signature(
    *, secret: str, tenant: str, timestamp: str | None, signature: str | None, body: bytes, now: float,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> None:
    """Raise SignatureError unless `signature` signs (timestamp, tenant, body) and the timestamp is fresh."""
    if not timestamp or not signature:
        raise SignatureError("X-Kintell-Timestamp and X-Kintell-Signature headers are required")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError("X-Kintell-Timestamp must be Unix time in seconds")
    if abs(now - int(timestamp)) > tolerance:
        raise SignatureError(f"X-Kintell-Timestamp is more than {tolerance} seconds from the server's clock")
    expected = sign(secret, timestamp, tenant, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureError("the signature does not match")


# --- import planning --------------------------------------------------------------------


class Decision(Enum):
    INSERT = "insert"  # a session not stored yet
    ADVANCE = "advance"  # scheduled -> completed or cancelled
    SAME = "same"  # the stored status already says this
    STALE = "stale"  # older news: scheduled, but it is already completed or cancelled
    CONFLICT = "conflict"  # completed vs cancelled: the sources disagree


def decide(current: str | None, new: str) -> Decision:
    """Sessions move scheduled -> completed | cancelled; completed and cancelled are final."""
    if current is None:
        return Decision.INSERT
    if current == new:
        return Decision.SAME
    if current == "scheduled":
        return Decision.ADVANCE
    if new == "scheduled":
        return Decision.STALE
    return Decision.CONFLICT


@dataclass(frozen=True)
class Step:
    line: int | None
    record: SessionRecord
    decision: Decision
    current: str | None  # the status before this row

    def conflict(self) -> RowError:
        return RowError(
            self.line, "status",
            f"session {self.record.session_id} is already {self.current}; it cannot become {self.record.status}",
        )


def plan_sessions(records: Iterable[tuple[int | None, SessionRecord]], stored: Mapping[str, str]) -> list[Step]:
    """Decide each record in order against the stored statuses, as if earlier rows were applied first."""
    state = dict(stored)
    steps = []
    for line, record in records:
        current = state.get(record.session_id)
        decision = decide(current, record.status)
        if decision in (Decision.INSERT, Decision.ADVANCE):
            state[record.session_id] = record.status
        steps.append(Step(line, record, decision, current))
    return steps


# --- event payloads ---------------------------------------------------------------------


def _ref(kintell_id: str) -> dict[str, str]:
    return {"system": "kintell", "id": kintell_id}


def scheduled_event(record: SessionRecord) -> dict[str, Any]:
    return {
        "session_id": record.session_id,
        "session_type": record.session_type,
        "participant": _ref(record.participant_id),
        "volunteer": _ref(record.volunteer_id),
        "scheduled_at": record.start.isoformat(),
        "language": record.language,
    }


def completed_event(record: SessionRecord) -> dict[str, Any]:
    return {
        "session_id": record.session_id,
        "session_type": record.session_type,
        "participant": _ref(record.participant_id),
        "volunteer": _ref(record.volunteer_id),
        "started_at": record.start.isoformat(),
        "duration_minutes": record.duration_minutes,
        "language": record.language,
        "level": record.level,
        "topics": list(record.topics),
        "notes": record.notes,
    }


def rating_event(rating: Rating) -> dict[str, Any]:
    return {
        "rating_id": rating.rating_id,
        "session_id": rating.session_id,
        "rated_by": _ref(rating.rater_id),
        "rater_role": rating.rater_role,
        "score": rating.score,
        "comment": rating.comment,
        "created_at": rating.created_at.isoformat(),
    }


def content_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def topics_json(topics: Sequence[str]) -> str:
    return json.dumps(list(topics), ensure_ascii=False)

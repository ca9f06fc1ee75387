"""Pure logic of q2q-ai: no I/O.

- the outcome taxonomy (four dimensions),
- which incoming events carry text, and whose text it is,
- PII masking (emails, phone numbers, person names) before anything is stored,
- segmentation of a text into evidence snippets,
- aggregation of weighted signals into a (value, confidence) pair,
- the safety gate: which facts (text, screening verdict, review decision) let a text be
  scored, whatever order they arrive in.

The lexicon model itself lives in lexicon.py, the providers in providers.py.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, get_args

from summit_contracts.events import buddy, kintell
from summit_contracts.events.common import ExternalRef
from summit_contracts.events.q2q import Dimension as ContractDimension

# --- taxonomy ---------------------------------------------------------------------------


class Dimension(StrEnum):
    """The outcome dimensions; the same names as the q2q.outcome.scored.v1 contract."""

    CONFIDENCE = "confidence"
    BELONGING = "belonging"
    LANGUAGE_LEVEL_PROXY = "language_level_proxy"
    JOB_READINESS = "job_readiness"


@dataclass(frozen=True)
class DimensionSpec:
    dimension: Dimension
    description: str
    low: str  # what a value near 0 means
    high: str  # what a value near 1 means


TAXONOMY: Mapping[Dimension, DimensionSpec] = {
    spec.dimension: spec
    for spec in (
        DimensionSpec(Dimension.CONFIDENCE, "self-confidence and self-efficacy the text expresses",
                      "nervous, afraid, insecure, doubting oneself", "confident, proud, unafraid to try"),
        DimensionSpec(Dimension.BELONGING, "feeling welcome, connected and part of a community",
                      "lonely, isolated, excluded, an outsider", "welcome, at home, with friends, included"),
        DimensionSpec(Dimension.LANGUAGE_LEVEL_PROXY,
                      "how well the person copes in the local language, as the text reports it (a proxy, not a test)",
                      "does not understand, needs translation, a language barrier",
                      "understands everything, speaks fluently, no translation needed"),
        DimensionSpec(Dimension.JOB_READINESS, "readiness for work: CV, applications, interviews, offers",
                      "unemployed, not ready, does not know how to apply", "interviews, offers, hired, ready to work"),
    )
}
DIMENSIONS: tuple[Dimension, ...] = tuple(TAXONOMY)
assert {d.value for d in DIMENSIONS} == set(get_args(ContractDimension)), "taxonomy and contract disagree"


def parse_dimension(value: str) -> Dimension:
    try:
        return Dimension(value)
    except ValueError:
        raise ValueError(f"unknown dimension {value!r}; known dimensions: {', '.join(DIMENSIONS)}") from None


# --- texts carried by events ------------------------------------------------------------


@dataclass(frozen=True)
class TextItem:
    """One free-text item to score, as identified by the safety service: (content_type, content_id)."""

    content_type: str  # the event type that carried the text
    content_id: str  # the id of the record that holds the text
    participant: ExternalRef  # whose outcomes the text speaks about
    text: str
    observed_at: datetime  # when the text was written (the record's own time)
    known_names: tuple[str, ...] = ()  # ids of the people the event names, masked in the text


FEEDBACK = "buddy.feedback.submitted.v1"
CHECKIN = "buddy.checkin.completed.v1"
SESSION = "kintell.session.completed.v1"
RATING = "kintell.rating.created.v1"
TEXT_SOURCES: tuple[str, ...] = (FEEDBACK, CHECKIN, SESSION, RATING)


def program_of(source_type: str) -> str:
    """The programme a text came from: the domain of the event type that carried it ("buddy", "kintell", ...)."""
    return source_type.split(".", 1)[0]


def text_item(event_type: str, data: Any) -> TextItem | None:
    """The text an event carries and whose it is; None when there is nothing to score
    (no text, only whitespace, or a volunteer's rating: it is not about a participant)."""
    if event_type == FEEDBACK:
        assert isinstance(data, buddy.FeedbackSubmitted)
        found = (data.feedback_id, data.participant, data.text, data.submitted_at, (data.participant.id,))
    elif event_type == CHECKIN:
        assert isinstance(data, buddy.CheckinCompleted)
        found = (data.checkin_id, data.participant, data.notes, data.completed_at, (data.participant.id,))
    elif event_type == SESSION:
        assert isinstance(data, kintell.SessionCompleted)
        found = (data.session_id, data.participant, data.notes, data.started_at, (data.participant.id, data.volunteer.id))
    elif event_type == RATING:
        assert isinstance(data, kintell.RatingCreated)
        if data.rater_role != "participant":
            return None
        found = (data.rating_id, data.rated_by, data.comment, data.created_at, (data.rated_by.id,))
    else:
        raise ValueError(f"{event_type} carries no text q2q-ai scores")
    content_id, participant, text, observed_at, names = found
    if text is None or not text.strip():
        return None
    return TextItem(event_type, content_id, participant, text, observed_at, names)


# --- PII masking ------------------------------------------------------------------------
#
# Heuristics, documented in README.md ("Masking"). Applied once, when a text arrives: the raw
# text is never stored, only the masked one, and everything downstream (scoring, evidence,
# the LLM provider's request) sees only masked text.

MASK_VERSION = "1"
EMAIL_TOKEN = "[EMAIL]"
PHONE_TOKEN = "[PHONE]"
NAME_TOKEN = "[NAME]"

EMAIL_RE = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
# A run of at least 7 digits held together by phone separators, optionally starting with + or (.
PHONE_RE = re.compile(r"(?<!\w)[+(]?\d(?:[ \t().\-/]{0,3}\d){6,}")
# Runs of digits that are not phone numbers: plausible ISO and European dates, year ranges.
_YEAR, _MONTH, _DAY = r"(?:19|20)\d\d", r"(?:0?[1-9]|1[0-2])", r"(?:0?[1-9]|[12]\d|3[01])"
_NOT_A_PHONE = re.compile(
    rf"{_YEAR}([-/.]){_MONTH}\1{_DAY}|{_DAY}([-/.]){_MONTH}\2{_YEAR}|{_YEAR} ?[-/–] ?{_YEAR}"
)

# Words after which a capitalised word is taken as a person's name.
_NAME_CUES = (
    r"my name is|my name's|name is|i am|i'm|i’m|this is|call me|called|"
    r"hi|hello|hey|dear|thanks|thank you|greetings|good morning|good evening|"
    r"buddy|mentor|volunteer|teacher|tutor|coach|friend|colleague|caseworker"
)
_TITLES = r"mr|mrs|ms|miss|dr"
_NAME_CUE_RE = re.compile(rf"\b(?:(?:{_TITLES})\b\.?|(?:{_NAME_CUES})\b[ \t]*,?)[ \t]*", re.IGNORECASE)
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
# Capitalised words after a cue that are not names.
_NOT_NAMES = frozenset(
    "i i'm i’m im everyone everybody all there team guys folks again both you we it he she they so not very "
    "really just also here from in at on sir madam mr mrs ms miss dr".split()
)
_MAX_NAME_WORDS = 3


def _is_phone(candidate: str) -> bool:
    return _NOT_A_PHONE.fullmatch(candidate.strip()) is None


def _mask_phones(text: str) -> str:
    return PHONE_RE.sub(lambda m: PHONE_TOKEN if _is_phone(m.group()) else m.group(), text)


def find_pii(text: str) -> list[str]:
    """Emails and phone numbers the masking rules would mask (empty for a masked text)."""
    return [m.group() for m in EMAIL_RE.finditer(text)] + [
        m.group() for m in PHONE_RE.finditer(text) if _is_phone(m.group())
    ]


def _names_after_cues(text: str) -> list[tuple[int, int]]:
    """Spans of 1..3 capitalised words right after a name cue ("my name is Anna Berg")."""
    spans = []
    for cue in _NAME_CUE_RE.finditer(text):
        pos, start, end = cue.end(), None, None
        for _ in range(_MAX_NAME_WORDS):
            word = _WORD_RE.match(text, pos)
            if word is None or not word.group()[0].isupper() or word.group().lower() in _NOT_NAMES:
                break
            start = word.start() if start is None else start
            end = word.end()
            pos = end
            if text[pos:pos + 1] not in (" ", "-") or text[pos + 1:pos + 2] in ("", " "):
                break
            pos += 1
        if start is not None:
            spans.append((start, end))
    return spans


def _known_name_patterns(known_names: Iterable[str]) -> list[str]:
    """Strings to mask because the event names these people: each id as written, and for ids
    that look like names (letters and separators only, e.g. 'anna.berg') their parts."""
    found: set[str] = set()
    for raw in known_names:
        name = raw.strip()
        if len(name) >= 3:
            found.add(name)
        parts = re.split(r"[._\s-]+", name)
        if len(parts) > 1 and not any(ch.isdigit() for ch in name):
            found.update(p for p in parts if len(p) >= 3 and p.isalpha())
    return sorted(found, key=lambda s: (-len(s), s))


def _whole_words(patterns: Sequence[str]) -> str:
    """Any of `patterns` as a whole word, and never inside a placeholder such as [EMAIL]."""
    return r"(?<![\w\[])(?:" + "|".join(map(re.escape, patterns)) + r")(?![\w\]])"


def mask(text: str, *, known_names: Iterable[str] = ()) -> str:
    """The text with emails, phone numbers and (heuristically) person names replaced by
    [EMAIL], [PHONE], [NAME]. Deterministic; see README.md for what the name rules miss."""
    text = EMAIL_RE.sub(EMAIL_TOKEN, text)
    text = _mask_phones(text)
    names = {text[s:e] for s, e in _names_after_cues(text)}
    words = {w for n in names for w in n.replace("-", " ").split() if len(w) >= 2}
    patterns = sorted(names | words, key=lambda s: (-len(s), s))
    if patterns:
        # Every other occurrence of a detected name, written the same way.
        text = re.sub(_whole_words(patterns), NAME_TOKEN, text)
    known = _known_name_patterns(known_names)
    if known:
        text = re.sub(_whole_words(known), NAME_TOKEN, text, flags=re.IGNORECASE)
    return re.sub(r"\[NAME\](?:[ -]\[NAME\])+", NAME_TOKEN, text)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- segmentation -----------------------------------------------------------------------

SEGMENTATION_VERSION = "1"
MAX_SNIPPET_CHARS = 280
_SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)|\n")


@dataclass(frozen=True)
class Snippet:
    """A sentence (or a piece of a long one) of a masked text: the unit of evidence."""

    index: int
    text: str
    start: int  # character offsets in the masked text
    end: int

    @property
    def sha256(self) -> str:
        return sha256_hex(self.text)


def _pieces(text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    """Cut [start, end) into pieces of at most MAX_SNIPPET_CHARS, at whitespace where possible."""
    while end - start > MAX_SNIPPET_CHARS:
        cut = text.rfind(" ", start + 1, start + MAX_SNIPPET_CHARS + 1)
        cut = cut if cut > start else start + MAX_SNIPPET_CHARS
        yield start, cut
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        yield start, end


def segment(text: str) -> tuple[Snippet, ...]:
    """Sentences of the text, in order, trimmed, none empty and none over MAX_SNIPPET_CHARS."""
    bounds, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        bounds.append((start, m.end()))
        start = m.end()
    bounds.append((start, len(text)))
    snippets: list[Snippet] = []
    for s, e in bounds:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        for ps, pe in _pieces(text, s, e):
            snippets.append(Snippet(len(snippets), text[ps:pe], ps, pe))
    return tuple(snippets)


# --- scores -----------------------------------------------------------------------------

PRIOR_WEIGHT = 1.0  # pseudo-weight of a neutral 0.5 every value is shrunk towards
MASS_SCALE = 2.0  # evidence weight at which confidence reaches 1 - 1/e of its ceiling
DECIMALS = 4


@dataclass(frozen=True)
class Signal:
    """One piece of evidence for a dimension: where it points (target in [0, 1]), how much
    it counts (weight > 0), which snippet it sits in, and why (shown in the explanation)."""

    target: float
    weight: float
    snippet: int
    why: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DimensionScore:
    dimension: Dimension
    value: float
    confidence: float
    evidence: tuple[int, ...]  # snippet indices, in text order, at least one
    explanation: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Analysis:
    """A masked text's snippets and its scores. Every score cites snippets of this analysis."""

    snippets: tuple[Snippet, ...]
    scores: tuple[DimensionScore, ...]

    def cited(self) -> tuple[Snippet, ...]:
        """The snippets at least one score rests on, in text order (only these are stored)."""
        used = {i for s in self.scores for i in s.evidence}
        return tuple(s for s in self.snippets if s.index in used)


def _clamp01(x: float) -> float:
    return 0.0 if x < 0 else 1.0 if x > 1 else x


def aggregate(signals: Sequence[Signal], *, prior_weight: float = PRIOR_WEIGHT, mass_scale: float = MASS_SCALE
              ) -> tuple[float, float]:
    """(value, confidence) from weighted signals.

    value      = weighted mean of the targets, shrunk towards 0.5 by `prior_weight`:
                 (sum w*t + prior*0.5) / (sum w + prior). A mean of numbers in [0, 1] stays there.
    confidence = evidence mass x agreement: (1 - exp(-sum w / mass_scale)) x (0.5 + 0.5 x (1 - 4 var)),
                 var the weighted variance of the targets (at most 0.25): mixed signals, lower confidence.
    Both rounded to 4 decimals, so a result is stable across platforms' last-bit float noise.
    """
    if not signals:
        raise ValueError("no signals: a dimension without evidence is not scored")
    total = sum(s.weight for s in signals)
    weighted = sum(s.weight * s.target for s in signals)
    value = (weighted + prior_weight * 0.5) / (total + prior_weight)
    mean = weighted / total
    variance = sum(s.weight * (s.target - mean) ** 2 for s in signals) / total
    agreement = _clamp01(1 - 4 * variance)
    confidence = (1 - math.exp(-total / mass_scale)) * (0.5 + 0.5 * agreement)
    return round(_clamp01(value), DECIMALS), round(_clamp01(confidence), DECIMALS)


def score_signals(snippets: tuple[Snippet, ...], signals: Mapping[Dimension, Sequence[Signal]]) -> Analysis:
    """The Analysis of per-dimension signals: a dimension with no signal is not scored."""
    scores = []
    for dimension in DIMENSIONS:
        found = [s for s in signals.get(dimension, ()) if s.weight > 0]
        if not found:
            continue
        value, confidence = aggregate(found)
        evidence = tuple(sorted({s.snippet for s in found}))
        if any(i < 0 or i >= len(snippets) for i in evidence):
            raise ValueError(f"{dimension} cites a snippet that does not exist")
        scores.append(DimensionScore(dimension, value, confidence, evidence, tuple(dict(s.why) for s in found)))
    return Analysis(snippets, tuple(scores))


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a provider's configuration (what decides its output)."""
    return sha256_hex(json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str))


def model_version(name: str, version: str, config: Mapping[str, Any]) -> str:
    """provider name + provider version + configuration hash, e.g. 'lexicon:1.0.0:3f2a9c1b7d4e'."""
    return f"{name}:{version}:{config_hash(config)[:12]}"


# --- the safety gate --------------------------------------------------------------------


class Status(StrEnum):
    AWAITING_TEXT = "awaiting_text"  # screened (or reviewed) before its text arrived
    AWAITING_SCREENING = "awaiting_screening"  # text stored, no verdict yet
    AWAITING_REVIEW = "awaiting_review"  # held by safety, no approving/rejecting review yet
    SCORED = "scored"
    DISCARDED = "discarded"  # held and the review rejected it: never scored, text deleted


class Action(StrEnum):
    NONE = "none"
    SCORE = "score"
    DISCARD = "discard"


TERMINAL = frozenset({Status.SCORED, Status.DISCARDED})
VERDICTS = ("clear", "held")
DECISIONS = ("approved", "rejected", "escalated")
FINAL_DECISIONS = frozenset({"approved", "rejected"})


def gate(status: Status | str | None, *, has_text: bool, verdict: str | None, review: str | None) -> tuple[Status, Action]:
    """Where an item stands given the facts known so far, and what to do now.

    Scored only when its text is here and it is cleared: verdict `clear`, or `held` and then
    `approved` by a review. A `held` item whose review `rejected` it is discarded (even before
    its text arrives; the text is then never stored). `escalated` keeps it waiting.
    A scored or discarded item never changes again.
    """
    if status is not None and Status(status) in TERMINAL:
        return Status(status), Action.NONE
    if verdict == "held" and review == "rejected":
        return Status.DISCARDED, Action.DISCARD
    if not has_text:
        return Status.AWAITING_TEXT, Action.NONE
    if verdict is None:
        return Status.AWAITING_SCREENING, Action.NONE
    if verdict == "clear" or review == "approved":
        return Status.SCORED, Action.SCORE
    return Status.AWAITING_REVIEW, Action.NONE


def merge_decision(stored: str | None, incoming: str) -> str:
    """Reviews of one flag: the first final decision (approved/rejected) stands; `escalated`
    never overrides one, whatever order the reviews arrive in."""
    if stored in FINAL_DECISIONS:
        return stored
    return incoming

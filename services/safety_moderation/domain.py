"""Pure logic of safety-moderation: no I/O.

- Which free text an event carries (`content_of`).
- The policy file: parsing and validation into compiled rules (`parse_policy`), its
  version (sha256 of the file bytes).
- Matching: keyword lists (word boundaries, case-insensitive, on normalised text),
  regexes, and built-in PII detectors (email, phone, national-id-like, IBAN-like).
- Screening: all matches, the outcome (clear / flagged / held), severity = max.
- Masking: PII is always replaced by a placeholder before text is stored or emitted.
- Reviews: the decision state machine and the release gate for downstream scoring.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

# --- vocabulary ---------------------------------------------------------------------------

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
SEVERITY_RANK: dict[str, int] = {s: n for n, s in enumerate(SEVERITIES, 1)}
ACTIONS: tuple[str, ...] = ("flag", "hold")
KNOWN_CATEGORIES: tuple[str, ...] = ("self_harm", "abuse", "harassment", "pii_leak")
PII_CATEGORY = "pii_leak"
PII_DETECTORS: tuple[str, ...] = ("email", "phone", "national_id", "iban")
DECISIONS: tuple[str, ...] = ("approved", "rejected", "escalated")

Severity = Literal["low", "medium", "high", "critical"]
Action = Literal["flag", "hold"]
Outcome = Literal["clear", "flagged", "held"]
Verdict = Literal["clear", "held"]
Decision = Literal["approved", "rejected", "escalated"]
PiiKind = Literal["email", "phone", "national_id", "iban"]


def max_severity(severities: Iterable[str]) -> str | None:
    """The most severe of `severities` (None for none)."""
    found = list(severities)
    return max(found, key=SEVERITY_RANK.__getitem__) if found else None


# --- content carried by events ------------------------------------------------------------


@dataclass(frozen=True)
class ContentField:
    id_field: str
    text_field: str
    author_field: str  # the ExternalRef of the person who wrote the text (for data-subject requests)


# Event type -> where its id, its free text and its author are. The content_id of a screening
# is the id of the record that holds the text (feedback_id, checkin_id, session_id, rating_id).
# Buddy feedback carries only the participant's ref, also when `from_role` is buddy: the text
# is filed under the participant of the match (the buddy has no ref on the event).
CONTENT_FIELDS: dict[str, ContentField] = {
    "buddy.feedback.submitted.v1": ContentField("feedback_id", "text", "participant"),
    "buddy.checkin.completed.v1": ContentField("checkin_id", "notes", "participant"),
    "kintell.session.completed.v1": ContentField("session_id", "notes", "participant"),
    "kintell.rating.created.v1": ContentField("rating_id", "comment", "rated_by"),
}


def content_of(event_type: str, data: Any) -> tuple[str, str | None]:
    """(content_id, text) of a consumed event; text is None when the event carries none."""
    spec = CONTENT_FIELDS[event_type]
    text = getattr(data, spec.text_field)
    return str(getattr(data, spec.id_field)), (text if text and text.strip() else None)


def author_of(event_type: str, data: Any) -> tuple[str, str] | None:
    """(system, id) of the person whose text the event carries; None if the event names nobody."""
    ref = getattr(data, CONTENT_FIELDS[event_type].author_field, None)
    return (ref.system, ref.id) if ref is not None else None


def content_digest(text: str | None) -> str:
    """sha256 of the exact text (no text hashes like the empty string): what a reviewer can
    compare against the source record without us storing the raw text."""
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()


# --- normalisation (for keyword matching) ---------------------------------------------------

_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")
_WORD_JOINERS = frozenset("-_\u2010\u2011\u2012\u2013\u2014\u2015\u2212")  # read as a space: self-harm == self harm
_APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"}


@dataclass(frozen=True)
class Normalised:
    """Normalised text and, for each of its characters, the index of the original character
    it came from (so a match on the normalised text maps back to a span of the original)."""

    text: str
    origin: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        return self.origin[start], self.origin[end - 1] + 1


def normalise(text: str) -> Normalised:
    """Case-folded, compatibility-decomposed (full-width -> ASCII, ligatures split), accents
    removed, zero-width characters dropped, curly apostrophes straightened, and every run of
    whitespace, '-' or '_' read as one space."""
    out: list[str] = []
    origin: list[int] = []

    def put(char: str, index: int) -> None:
        if char.isspace() or char in _WORD_JOINERS:
            if out and out[-1] == " ":
                return
            char = " "
        out.append(char)
        origin.append(index)

    for index, raw in enumerate(text):
        if raw in _ZERO_WIDTH:
            continue
        for char in _fold(_APOSTROPHES.get(raw, raw)):
            put(char, index)
    return Normalised("".join(out), tuple(origin))


@functools.lru_cache(maxsize=8192)
def _fold(char: str) -> str:
    """One character decomposed, without accents, case-folded; repeated until stable (case
    folding can itself produce decomposable or combining characters, e.g. U+0130)."""
    current = char
    for _ in range(4):
        folded = "".join(c for c in unicodedata.normalize("NFKD", current) if not unicodedata.combining(c)).casefold()
        folded = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
        if folded == current:
            break
        current = folded
    return "".join(_APOSTROPHES.get(c, c) for c in current if c not in _ZERO_WIDTH)


def normalise_keyword(keyword: str) -> str:
    return normalise(keyword).text.strip()


# --- PII detection ---------------------------------------------------------------------------

PII_LABELS = {"email": "[EMAIL]", "phone": "[PHONE]", "national_id": "[NATIONAL_ID]", "iban": "[IBAN]", "number": "[NUMBER]"}
GENERIC_PII_LABEL = "[PII]"


@dataclass(frozen=True)
class PiiSpan:
    kind: str  # one of PII_DETECTORS, or "number" (a long digit run: masked, never matched by a rule)
    start: int
    end: int


_EMAIL = re.compile(r"(?<![\w.+%-])[\w.+%-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?![\w-])", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
# Between two digit groups of one phone number: one space, '.' or '-', optionally with
# parentheses around a group: "+44 (0)20 7946 0958", "912 34 567", "22-33-44-55".
_PHONE_GAP = re.compile(r"\)?[ .\-]?\(?")
_NATIONAL_IDS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(?<![\w-])\d{6} ?\d{5}(?![\w-])",  # Norway (fodselsnummer / D-nummer): 11 digits
        r"(?<![\w-])(?:\d{2})?\d{6}[-+]\d{4}(?![\w-])",  # Sweden (personnummer), Denmark (CPR)
        r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])",  # US SSN
        r"(?<!\w)[a-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[a-d](?!\w)",  # UK National Insurance number
    )
]
_IBAN = re.compile(r"(?<!\w)[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,3})?(?!\w)", re.IGNORECASE)
PHONE_MIN_DIGITS, PHONE_MAX_DIGITS = 8, 15


def iban_checksum_ok(candidate: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN (spaces ignored)."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(c, 36)) for c in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def _is_date(groups: Sequence[str], gaps: Sequence[str]) -> bool:
    """Three digit groups that read as a calendar date: 2024-03-04, 04.03.2024, 4.3.24."""
    if len(groups) != 3 or gaps[0] != gaps[1] or gaps[0] not in ("-", "."):
        return False
    a, b, c = (int(g) for g in groups)
    la, lb, lc = (len(g) for g in groups)
    if la == 4 and lb <= 2 and lc <= 2:
        return 1 <= b <= 12 and 1 <= c <= 31
    if la <= 2 and lb <= 2 and lc in (2, 4):
        return 1 <= a <= 31 and 1 <= b <= 12
    return False


def _digit_chains(text: str, taken: Sequence[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Phone-like digit runs: (start, end, kind) with kind 'phone' (8-15 digits) or 'number'
    (masked, not a phone: a run of more than 15 digits, or 8+ digits glued to a word).

    Digit groups joined by phone separators form a chain; chains are split around calendar
    dates, at groups glued to a letter ('A1234', 'NO93'), and skip digits inside `taken`
    (emails, IBANs). A chain of more than 15 digits is masked whole and its phone-sized
    pieces (greedy, left to right) are still reported as phones."""
    groups = [(m.start(), m.end()) for m in _DIGITS.finditer(text)
              if not any(a <= m.start() < b for a, b in taken)]

    def glued(start: int, end: int) -> bool:
        before = text[start - 1] if start > 0 else ""
        after = text[end] if end < len(text) else ""
        return before.isalpha() or before == "_" or after.isalpha() or after == "_"

    chains: list[list[tuple[int, int]]] = []
    found: list[tuple[int, int, str]] = []
    current: list[tuple[int, int]] = []
    for start, end in groups:
        if glued(start, end):
            if end - start >= PHONE_MIN_DIGITS:
                found.append((start, end, "number"))
            chains.append(current)
            current = []
            continue
        if current and _PHONE_GAP.fullmatch(text[current[-1][1]:start]):
            current.append((start, end))
        else:
            chains.append(current)
            current = [(start, end)]
    chains.append(current)

    for chain in filter(None, chains):
        for piece in _split_dates(text, chain):
            digits = sum(e - s for s, e in piece)
            if digits > PHONE_MAX_DIGITS:
                found.append((piece[0][0], piece[-1][1], "number"))
                found.extend(_phone_span(text, sub) for sub in _phone_sized(piece))
            elif digits >= PHONE_MIN_DIGITS:
                found.append(_phone_span(text, piece))
    return found


def _phone_sized(piece: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Greedy split of a too-long chain into runs of at most 15 digits; keeps the 8+ ones."""
    runs: list[list[tuple[int, int]]] = [[]]
    for group in piece:
        if sum(e - s for s, e in runs[-1]) + group[1] - group[0] > PHONE_MAX_DIGITS:
            runs.append([])
        runs[-1].append(group)
    return [r for r in runs if PHONE_MIN_DIGITS <= sum(e - s for s, e in r) <= PHONE_MAX_DIGITS]


def _phone_span(text: str, piece: list[tuple[int, int]]) -> tuple[int, int, str]:
    start, end = piece[0][0], piece[-1][1]
    if start > 0 and text[start - 1] == "+":
        start -= 1
    elif start > 0 and text[start - 1] == "(" and text[end - 1:end + 1] != ")":
        start -= 1
    if start > 0 and text[start - 1] == "(" and text[start] == "+":  # "(+47) 912..."
        start -= 1
    return start, end, "phone"


def _split_dates(text: str, chain: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    pieces: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    i = 0
    while i < len(chain):
        window = chain[i:i + 3]
        gaps = [text[window[k][1]:window[k + 1][0]] for k in range(len(window) - 1)]
        if len(window) == 3 and _is_date([text[s:e] for s, e in window], gaps):
            if current:
                pieces.append(current)
            current = []
            i += 3
            continue
        current.append(chain[i])
        i += 1
    if current:
        pieces.append(current)
    return pieces


def pii_spans(text: str) -> list[PiiSpan]:
    """Every PII-like span of `text`, sorted; spans of different kinds may overlap
    (an 11-digit Norwegian id is also phone-shaped)."""
    spans = [PiiSpan("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    spans += [PiiSpan("iban", m.start(), m.end()) for m in _IBAN.finditer(text) if iban_checksum_ok(m.group())]
    taken = [(s.start, s.end) for s in spans]
    spans += [PiiSpan(kind, start, end) for start, end, kind in _digit_chains(text, taken)]
    for pattern in _NATIONAL_IDS:
        spans.extend(PiiSpan("national_id", m.start(), m.end()) for m in pattern.finditer(text))
    return sorted(set(spans), key=lambda s: (s.start, s.end, s.kind))


# --- policy ----------------------------------------------------------------------------------

MAX_RULES = 500
MAX_KEYWORDS = 5000
MAX_REGEX_CHARS = 1000

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,79}$")]
Category = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class _RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: RuleId
    category: Category
    severity: Severity
    action: Action
    description: str | None = Field(default=None, max_length=500)
    enabled: bool = True
    keywords: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] | None = Field(
        default=None, min_length=1, max_length=MAX_KEYWORDS)
    regex: str | None = Field(default=None, min_length=1, max_length=MAX_REGEX_CHARS)
    case_sensitive: bool = False
    pii: PiiKind | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> _RuleSpec:
        given = [name for name in ("keywords", "regex", "pii") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a rule needs exactly one of keywords, regex or pii (got {', '.join(given) or 'none'})")
        if self.case_sensitive and self.regex is None:
            raise ValueError("case_sensitive applies to regex rules only")
        return self


class _PolicySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    rules: list[_RuleSpec] = Field(min_length=1, max_length=MAX_RULES)


class PolicyError(ValueError):
    """The policy file is not a valid policy; `errors` says every reason found."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    severity: str
    action: str
    kind: Literal["keywords", "regex", "pii"]
    enabled: bool = True
    description: str | None = None
    pattern: re.Pattern[str] | None = field(default=None, compare=False)  # keywords: on normalised text
    pii: str | None = None
    keyword_count: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "category": self.category, "severity": self.severity, "action": self.action,
            "kind": self.kind, "enabled": self.enabled, "description": self.description,
            **({"pii": self.pii} if self.pii else {}),
            **({"keywords": self.keyword_count} if self.kind == "keywords" else {}),
        }


@dataclass(frozen=True)
class Policy:
    version: str  # sha256 of the file bytes
    rules: tuple[Rule, ...]
    name: str | None = None
    description: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "policy_version": self.version, "name": self.name, "description": self.description,
            "rules": [r.summary() for r in self.rules],
        }


def policy_version(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _location(loc: Sequence[Any], data: Any) -> str:
    """'rules[2] (id 'abuse-words').severity' from a pydantic error location."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(step, int):
            label = f"[{step}]"
            if isinstance(node, list) and step < len(node):
                node = node[step]
                if isinstance(node, dict) and isinstance(node.get("id"), str):
                    label += f" (id {node['id']!r})"
            parts.append(label)
        else:
            parts.append(f".{step}" if parts else str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return "".join(parts) or "policy"


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation over normalised keywords, longest first (so 'kill myself' wins over
    'kill'), with word boundaries on both sides."""
    words = sorted({normalise_keyword(k) for k in keywords} - {""}, key=lambda k: (-len(k), k))
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)")


def _compile_rule(spec: _RuleSpec, errors: list[str]) -> Rule | None:
    common = dict(id=spec.id, category=spec.category, severity=spec.severity, action=spec.action,
                  enabled=spec.enabled, description=spec.description)
    if spec.keywords is not None:
        empty = [k for k in spec.keywords if not normalise_keyword(k)]
        if empty:
            errors.append(f"rule {spec.id!r}: keywords {empty!r} are empty after normalisation")
            return None
        return Rule(kind="keywords", pattern=keyword_pattern(spec.keywords), keyword_count=len(set(spec.keywords)), **common)
    if spec.regex is not None:
        try:
            pattern = re.compile(spec.regex, 0 if spec.case_sensitive else re.IGNORECASE)
        except re.error as exc:
            errors.append(f"rule {spec.id!r}: regex does not compile: {exc}")
            return None
        if pattern.search("") is not None:
            errors.append(f"rule {spec.id!r}: regex matches the empty string, so it would match every text")
            return None
        return Rule(kind="regex", pattern=pattern, **common)
    return Rule(kind="pii", pii=spec.pii, **common)


def parse_policy(raw: bytes) -> Policy:
    """Validate a policy file (YAML) and compile its rules. Raises PolicyError listing every
    problem found; a policy is all or nothing."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError([f"the policy file is not UTF-8 (byte {exc.start})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([f"the policy file is not valid YAML{where}: {problem}"]) from None
    if not isinstance(data, dict):
        raise PolicyError(["the policy file must be a YAML mapping with a 'rules' list"])
    try:
        spec = _PolicySpec.model_validate(data)
    except ValidationError as exc:
        raise PolicyError([f"{_location(e['loc'], data)}: {e['msg']}" for e in exc.errors()]) from None
    errors: list[str] = []
    seen: set[str] = set()
    rules: list[Rule] = []
    for rule_spec in spec.rules:
        if rule_spec.id in seen:
            errors.append(f"rule id {rule_spec.id!r} is used more than once")
            continue
        seen.add(rule_spec.id)
        rule = _compile_rule(rule_spec, errors)
        if rule is not None:
            rules.append(rule)
    if errors:
        raise PolicyError(errors)
    return Policy(version=policy_version(raw), rules=tuple(rules), name=spec.name, description=spec.description)


# --- matching and screening -----------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    rule_id: str
    category: str
    severity: str
    action: str
    start: int  # span in the original text
    end: int
    rule_index: int
    pii: str | None = None

    def summary(self) -> dict[str, Any]:
        """What may leave the service: never the matched text or its position."""
        return {"rule_id": self.rule_id, "category": self.category, "severity": self.severity, "action": self.action,
                **({"pii": self.pii} if self.pii else {})}


def find_matches(policy: Policy, text: str) -> tuple[Match, ...]:
    """Every match of every enabled rule, sorted by position. Matches of different rules may
    overlap; within one rule they do not (longest keyword first)."""
    found: list[Match] = []
    norm: Normalised | None = None
    pii: list[PiiSpan] | None = None
    for index, rule in enumerate(policy.rules):
        if not rule.enabled:
            continue

        def add(start: int, end: int, kind: str | None = None, rule: Rule = rule, index: int = index) -> None:
            found.append(Match(rule.id, rule.category, rule.severity, rule.action, start, end, index, kind))

        if rule.kind == "keywords" and rule.pattern is not None:
            norm = norm or normalise(text)
            for m in rule.pattern.finditer(norm.text):
                add(*norm.original_span(m.start(), m.end()))
        elif rule.kind == "regex" and rule.pattern is not None:
            for m in rule.pattern.finditer(text):
                if m.end() > m.start():
                    add(m.start(), m.end())
        elif rule.kind == "pii":
            pii = pii if pii is not None else pii_spans(text)
            for span in pii:
                if span.kind == rule.pii:
                    add(span.start, span.end, span.kind)
    return tuple(sorted(found, key=lambda m: (m.start, m.end, m.rule_index)))


def primary_match(matches: Sequence[Match]) -> Match | None:
    """The match that names the flag: most severe, then 'hold' over 'flag', then the earliest,
    then the first rule in the file."""
    if not matches:
        return None
    return min(matches, key=lambda m: (-SEVERITY_RANK[m.severity], m.action != "hold", m.start, m.rule_index))


def outcome_of(matches: Sequence[Match]) -> Outcome:
    if any(m.action == "hold" for m in matches):
        return "held"
    return "flagged" if matches else "clear"


@dataclass(frozen=True)
class Screening:
    outcome: Outcome
    matches: tuple[Match, ...]
    policy_version: str
    content_sha256: str
    masked_text: str | None  # None for a clear text: nothing is kept of it
    excerpt: str | None

    @property
    def verdict(self) -> Verdict:
        """What text.screened says: a 'flagged' text is reviewed after the fact, not held."""
        return "held" if self.outcome == "held" else "clear"

    @property
    def primary(self) -> Match | None:
        return primary_match(self.matches)

    @property
    def severity(self) -> str | None:
        return max_severity(m.severity for m in self.matches)

    @property
    def needs_review(self) -> bool:
        return self.outcome != "clear"


def screen(policy: Policy, text: str | None, *, context_chars: int = 120) -> Screening:
    """Screen one text. No text is clear without looking further."""
    digest = content_digest(text)
    if not text:
        return Screening("clear", (), policy.version, digest, None, None)
    matches = find_matches(policy, text)
    outcome = outcome_of(matches)
    if outcome == "clear":
        return Screening("clear", (), policy.version, digest, None, None)
    masked = mask(text, redactions(text, matches))
    primary = primary_match(matches)
    assert primary is not None
    return Screening(outcome, matches, policy.version, digest, masked.text,
                     masked.excerpt(primary.start, primary.end, context_chars=context_chars))


# --- masking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redaction:
    start: int
    end: int
    label: str


def redactions(text: str, matches: Sequence[Match] = ()) -> list[Redaction]:
    """What to mask: every PII-like span (whatever the policy says: stored text never keeps
    PII), plus every match of a rule in the pii_leak category."""
    found = [Redaction(s.start, s.end, PII_LABELS[s.kind]) for s in pii_spans(text)]
    found += [Redaction(m.start, m.end, PII_LABELS.get(m.pii or "", GENERIC_PII_LABEL))
              for m in matches if m.category == PII_CATEGORY]
    return found


def merge_redactions(items: Iterable[Redaction]) -> list[Redaction]:
    """Overlapping spans become one; its label is theirs when they agree, else [PII]."""
    merged: list[Redaction] = []
    for r in sorted(items, key=lambda r: (r.start, r.end)):
        if r.end <= r.start:
            continue
        if merged and r.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Redaction(last.start, max(last.end, r.end), last.label if last.label == r.label else GENERIC_PII_LABEL)
        else:
            merged.append(r)
    return merged


@dataclass(frozen=True)
class Masked:
    text: str
    # (original start, original end, masked start, masked end) of every placeholder
    spans: tuple[tuple[int, int, int, int], ...]

    def position(self, original: int) -> int:
        """Where an original offset lands in the masked text (inside a placeholder: its start)."""
        shift = 0
        for o_start, o_end, m_start, m_end in self.spans:
            if original < o_start:
                break
            if original < o_end:
                return m_start
            shift = m_end - o_end
        return original + shift

    def end_position(self, original_end: int) -> int:
        """Where an original (exclusive) end offset lands (inside a placeholder: its end)."""
        shift = 0
        for o_start, o_end, _, m_end in self.spans:
            if original_end <= o_start:
                break
            if original_end <= o_end:
                return m_end
            shift = m_end - o_end
        return original_end + shift

    def _outside_placeholders(self, pos: int, *, forward: bool) -> int:
        """Move a cut point out of a placeholder so an excerpt never shows half of one."""
        for _, _, m_start, m_end in self.spans:
            if m_start < pos < m_end:
                return m_end if forward else m_start
        return pos

    def excerpt(self, start: int, end: int, *, context_chars: int = 120, max_match_chars: int = 400) -> str:
        """The masked text around the original span [start, end), with '…' where it is cut."""
        m_start = self.position(start)
        m_end = max(self.end_position(end), m_start)
        m_end = self._outside_placeholders(min(m_end, m_start + max_match_chars), forward=True)
        lo = self._outside_placeholders(max(0, m_start - context_chars), forward=False)
        hi = self._outside_placeholders(min(len(self.text), m_end + context_chars), forward=True)
        return ("…" if lo > 0 else "") + self.text[lo:hi] + ("…" if hi < len(self.text) else "")


def mask(text: str, items: Iterable[Redaction]) -> Masked:
    parts: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    cursor = 0
    length = 0
    for r in merge_redactions(items):
        parts.append(text[cursor:r.start])
        length += r.start - cursor
        parts.append(r.label)
        spans.append((r.start, r.end, length, length + len(r.label)))
        length += len(r.label)
        cursor = r.end
    parts.append(text[cursor:])
    return Masked("".join(parts), tuple(spans))


def mask_pii(text: str) -> str:
    """`text` with every PII-like span replaced by its placeholder (e.g. a reviewer's reason)."""
    return mask(text, redactions(text)).text


# --- reviews and the release gate --------------------------------------------------------------


class AlreadyDecided(Exception):
    def __init__(self, decision: str) -> None:
        super().__init__(f"already decided: {decision}")
        self.decision = decision


def decide(status: str, current_decision: str | None, decision: Decision) -> tuple[str, Decision]:
    """pending -> decided, once. Every decision (escalated too) is final in this service:
    a second one is refused, so each flag has exactly one review.completed event."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
    if status != "pending":
        raise AlreadyDecided(current_decision or status)
    return "decided", decision


def releasable(verdict: str, decision: str | None) -> bool:
    """The q2q gate: a clear text may be used, a held one only once a reviewer approved it.
    A reviewer's rejection or escalation also withdraws a clear-but-flagged text."""
    if decision == "approved":
        return True
    if decision in ("rejected", "escalated"):
        return False
    return verdict == "clear"

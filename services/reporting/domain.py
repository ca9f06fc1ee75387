"""Pure logic of reporting: pseudonyms, periods, PII redaction and scanning, the
deterministic narrative builder, the citation check and the evidence hash. No I/O, no clock."""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

TEMPLATES = ("quarterly", "annual", "investor_update", "impact_deep_dive")
DIMENSIONS = ("confidence", "belonging", "language_level_proxy", "job_readiness")
DIMENSION_LABELS = {"confidence": "Confidence", "belonging": "Belonging",
                    "language_level_proxy": "Language level", "job_readiness": "Job readiness"}
GENERATOR_VERSION = "deterministic-1"
PREVIEW_CHARS = 240


# --- identities and periods -------------------------------------------------------------

def pseudonym(key: str, tenant: str, system: str, ref_id: str) -> str:
    """Stable per tenant, not reversible without the key: the raw participant ref is never stored."""
    return hmac.new(key.encode(), f"{tenant}\x1f{system}\x1f{ref_id}".encode(), hashlib.sha256).hexdigest()


def quarter_of(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at.year}-Q{(at.month - 1) // 3 + 1}"


_PERIOD = re.compile(r"^(\d{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?$")


def period_bounds(period: str) -> tuple[datetime, datetime] | None:
    """[start, end) in UTC of 'YYYY', 'YYYY-Qn' or 'YYYY-MM'; None when it is not a period."""
    m = _PERIOD.match(period)
    if not m:
        return None
    year = int(m.group(1))
    if m.group(2):
        start = datetime(year, 3 * (int(m.group(2)) - 1) + 1, 1, tzinfo=UTC)
        months = 3
    elif m.group(3):
        start = datetime(year, int(m.group(3)), 1, tzinfo=UTC)
        months = 1
    else:
        start, months = datetime(year, 1, 1, tzinfo=UTC), 12
    return start, _add_months(start, months)


def _add_months(at: datetime, months: int) -> datetime:
    index = at.year * 12 + at.month - 1 + months
    return at.replace(year=index // 12, month=index % 12 + 1, day=1)


def period_start(frequency: str, at: datetime) -> datetime:
    """Start of the month or quarter that contains `at`."""
    at = at.astimezone(UTC)
    month = at.month if frequency == "monthly" else 3 * ((at.month - 1) // 3) + 1
    return datetime(at.year, month, 1, tzinfo=UTC)


def next_run_at(frequency: str, at: datetime) -> datetime:
    """When a schedule next fires: the start of the next month or quarter after `at`."""
    return _add_months(period_start(frequency, at), 1 if frequency == "monthly" else 3)


def period_just_ended(frequency: str, at: datetime) -> str:
    """The last complete month ('YYYY-MM') or quarter ('YYYY-Qn') before `at`."""
    previous = _add_months(period_start(frequency, at), -1 if frequency == "monthly" else -3)
    return f"{previous.year}-{previous.month:02d}" if frequency == "monthly" else quarter_of(previous)


def retry_at(now: datetime, attempts: int, backoff: Sequence[float]) -> datetime:
    return now + timedelta(seconds=backoff[min(attempts - 1, len(backoff) - 1)] if backoff else 0)


# --- PII ------------------------------------------------------------------------------

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL_WITH_QUERY = re.compile(r"\bhttps?://[^\s?#]+\?\S+", re.IGNORECASE)
_PHONE_CANDIDATE = re.compile(r"(?<![\w.,])\+?\(?\d[\d\s().-]{6,}\d(?![\w])")
_PLAIN_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}(?:-\d{2})?$")
# Two or more capitalised words in a row, not at the start of a sentence: probably a name.
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)(?<!\[)\b(?:(?:Mr|Mrs|Ms|Dr)\.?\s+)?[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+\b")
_HONORIFIC = re.compile(r"\b(?:Mr|Mrs|Ms|Dr)\.?\s+[A-Z][a-z]+\b")


def _is_phone(candidate: str) -> bool:
    text = candidate.strip()
    digits = sum(ch.isdigit() for ch in text)
    return digits >= 8 and not _PLAIN_NUMBER.match(text) and not _DATE.match(text)


def _phones(text: str) -> list[re.Match]:
    return [m for m in _PHONE_CANDIDATE.finditer(text) if _is_phone(m.group())]


def redact(text: str, *, names: bool = True) -> str:
    """Masks emails, phone numbers, URLs with query strings and (heuristically) names."""
    text = URL_WITH_QUERY.sub("[url]", text)
    text = EMAIL.sub("[email]", text)
    for m in reversed(_phones(text)):
        text = text[:m.start()] + "[phone]" + text[m.end():]
    if names:
        text = _HONORIFIC.sub("[name]", text)
        text = _NAME.sub("[name]", text)
    return text


def pii_hits(text: str) -> list[str]:
    """Kinds of PII found (emails, phones, URLs with query strings); the post-generation scan."""
    hits = []
    if EMAIL.search(text):
        hits.append("email")
    if URL_WITH_QUERY.search(text):
        hits.append("url_with_query")
    if _phones(text):
        hits.append("phone")
    if _HONORIFIC.search(text):
        hits.append("name")
    return hits


# --- evidence and citations -----------------------------------------------------------

def evidence_hash(snippet_hashes: Iterable[str]) -> str:
    """sha256 over the sorted snippet hashes of the cited evidence: what the report rests on."""
    return hashlib.sha256("\n".join(sorted(set(snippet_hashes))).encode()).hexdigest()


def preview(snippet: str, limit: int = PREVIEW_CHARS) -> str:
    return snippet if len(snippet) <= limit else snippet[: limit - 1].rstrip() + "…"


def cited_ids(sections: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for section in sections:
        for paragraph in section.get("paragraphs", ()):
            for ev in paragraph.get("citations", ()):
                seen[str(ev)] = None
    return list(seen)


def citation_problems(sections: Sequence[Mapping[str, Any]], known: set[str]) -> list[str]:
    """Why the narrative's citations are not acceptable (empty list: they are)."""
    problems = []
    if not sections:
        problems.append("the narrative has no sections")
    for s_index, section in enumerate(sections):
        paragraphs = section.get("paragraphs") or []
        if not paragraphs:
            problems.append(f"section {s_index + 1} has no paragraphs")
        for p_index, paragraph in enumerate(paragraphs):
            citations = paragraph.get("citations") or []
            if not citations:
                problems.append(f"section {s_index + 1} paragraph {p_index + 1} cites no evidence")
            unknown = [c for c in citations if c not in known]
            if unknown:
                problems.append(f"section {s_index + 1} paragraph {p_index + 1} cites unknown evidence: {', '.join(sorted(unknown)[:5])}")
    return problems


_BRACKETED = re.compile(r"\[[^\]\s]{1,200}\]")


def narrative_pii(sections: Sequence[Mapping[str, Any]]) -> list[str]:
    """PII kinds in titles and paragraphs; citation markers like [evidence-id] are not text."""
    hits: set[str] = set()
    for section in sections:
        hits.update(pii_hits(_BRACKETED.sub(" ", str(section.get("title", "")))))
        for paragraph in section.get("paragraphs", ()):
            hits.update(pii_hits(_BRACKETED.sub(" ", str(paragraph.get("text", "")))))
    return sorted(hits)


# --- the deterministic narrative -------------------------------------------------------

@dataclass(frozen=True)
class Evidence:
    evidence_id: str
    snippet: str            # already redacted
    snippet_sha256: str
    dimensions: tuple[str, ...]
    program: str


def outcome_counts(evidence: Sequence[Evidence]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for ev in evidence:
        counts.update(ev.dimensions or ("unlabelled",))
    return {k: counts[k] for k in sorted(counts)}


def program_counts(evidence: Sequence[Evidence]) -> dict[str, int]:
    counts = Counter(ev.program for ev in evidence)
    return {k: counts[k] for k in sorted(counts)}


def _money(value: float | None) -> str:
    return "not yet available" if value is None else f"{value:,.2f}"


def _pick(pool: Sequence[Evidence], rng: random.Random, k: int = 3) -> list[str]:
    return sorted(ev.evidence_id for ev in rng.sample(list(pool), min(k, len(pool))))


def _cite(ids: Sequence[str]) -> str:
    return " ".join(f"[{i}]" for i in ids)


def _paragraph(text: str, ids: list[str]) -> dict[str, Any]:
    return {"text": f"{text} {_cite(ids)}", "citations": ids}


SECTION_PLANS = {
    "quarterly": ("Executive summary", "Outcomes by dimension", "Programme reach", "Participant voice"),
    "annual": ("Year in review", "Outcomes by dimension", "Programme reach", "Social return", "Participant voice"),
    "investor_update": ("Highlights", "Social return", "Evidence base"),
    "impact_deep_dive": ("Method", "Outcomes by dimension", "Participant voice"),
}


def build_narrative(template: str, period: str, metrics: Mapping[str, Any] | None, evidence: Sequence[Evidence],
                    seed: int) -> dict[str, Any]:
    """Sections of paragraphs (each citing evidence ids) and chart recommendations: a pure
    function of its inputs. Evidence order does not matter (it is sorted first)."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}")
    if not evidence:
        raise ValueError("no evidence to cite")
    pool = sorted(evidence, key=lambda ev: ev.evidence_id)
    counts = outcome_counts(pool)
    programs = program_counts(pool)
    by_dim = {d: [ev for ev in pool if d in ev.dimensions] for d in counts}
    m = metrics or {}
    sections = []
    for title in SECTION_PLANS[template]:
        rng = random.Random(f"{seed}:{template}:{title}")
        paragraphs: list[dict[str, Any]] = []
        if title in ("Executive summary", "Year in review", "Highlights"):
            top = max(counts, key=lambda d: (counts[d], d))
            paragraphs.append(_paragraph(
                f"In {period}, {len(pool)} pieces of participant evidence were recorded across "
                f"{len(programs)} programme(s); the most evidenced outcome was "
                f"{DIMENSION_LABELS.get(top, top).lower()} ({counts[top]} mentions).", _pick(by_dim[top], rng)))
            if m:
                paragraphs.append(_paragraph(
                    f"The volunteer impact score stands at {m.get('vis_score', 0):.1f} of 100 and the social value "
                    f"at {_money(m.get('social_value'))}.", _pick(pool, rng)))
        elif title == "Outcomes by dimension":
            for dim in counts:
                label = DIMENSION_LABELS.get(dim, dim)
                share = 100 * counts[dim] / len(pool)
                paragraphs.append(_paragraph(
                    f"{label}: {counts[dim]} evidence items ({share:.0f}% of the period's evidence).",
                    _pick(by_dim[dim], rng)))
        elif title == "Programme reach":
            for program, n in programs.items():
                paragraphs.append(_paragraph(
                    f"The {program} programme contributed {n} evidence items.",
                    _pick([ev for ev in pool if ev.program == program], rng)))
        elif title == "Social return":
            ratio = m.get("sroi_ratio")
            paragraphs.append(_paragraph(
                f"Social value of {_money(m.get('social_value'))} against an investment of "
                f"{_money(m.get('investment'))} gives an SROI of "
                f"{'not yet available' if ratio is None else f'{ratio:.2f} : 1'}.", _pick(pool, rng)))
        elif title == "Evidence base":
            paragraphs.append(_paragraph(
                f"Every figure in this update is traceable to {len(pool)} anonymised evidence items; "
                "a sample is cited here.", _pick(pool, rng, 5)))
        elif title == "Method":
            paragraphs.append(_paragraph(
                "Outcomes are scored from participants' own words; each statement below cites the anonymised "
                "evidence it rests on.", _pick(pool, rng)))
        elif title == "Participant voice":
            paragraphs.append(_paragraph(
                "Representative statements from participants, anonymised before analysis, are cited here.",
                _pick(pool, rng, 4)))
        sections.append({"title": title, "paragraphs": paragraphs})
    charts = [{"chart": "outcome_counts", "type": "bar", "title": "Evidence by outcome", "data": counts}]
    if m:
        charts.append({"chart": "sroi_vis", "type": "bar", "title": "SROI and VIS",
                       "data": {"sroi_ratio": m.get("sroi_ratio"), "vis_score": m.get("vis_score")}})
    return {"sections": sections, "charts": charts}

"""Pure SROI and VIS arithmetic: periods, configuration, outcome counting, the SROI
calculation step by step (SROI Guide / Social Value UK), and the volunteer impact score.

No I/O here: the handlers and the store feed counts and per-volunteer figures in.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

# ---------------------------------------------------------------- periods

QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def periods_of(at: datetime) -> tuple[str, str]:
    """The calendar quarter and month ("2025-Q1", "2025-03") of a business timestamp, in UTC."""
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return f"{at.year}-Q{(at.month - 1) // 3 + 1}", f"{at.year}-{at.month:02d}"


def is_period(text: str) -> bool:
    return bool(QUARTER.match(text) or MONTH.match(text))


def is_quarter(period: str) -> bool:
    return bool(QUARTER.match(period))


def period_bounds(period: str) -> tuple[date, date]:
    """[start, end) dates of a period."""
    if m := QUARTER.match(period):
        year, q = int(m[1]), int(m[2])
        start = date(year, 3 * q - 2, 1)
        end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
        return start, end
    if m := MONTH.match(period):
        year, month = int(m[1]), int(m[2])
        return date(year, month, 1), date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    raise ValueError(f"not a period: {period!r} (expected YYYY-Qn or YYYY-MM)")


def weeks_in(period: str) -> int:
    start, end = period_bounds(period)
    return math.ceil((end - start) / timedelta(days=7))


# ---------------------------------------------------------------- configuration

FACTORS = ("deadweight", "attribution", "displacement", "drop_off")
VIS_COMPONENTS = ("hours", "rating", "consistency", "outcomes")


@dataclass(frozen=True)
class OutcomeConfig:
    proxy: float
    deadweight: float
    attribution: float
    displacement: float
    drop_off: float
    duration_years: int


@dataclass(frozen=True)
class Config:
    version: str
    currency: str
    discount_rate: float
    q2q_threshold: float
    outcomes: Mapping[str, OutcomeConfig]
    vis_hours_target: float
    vis_weights: Mapping[str, float]


def parse_config(raw: Mapping[str, Any]) -> Config:
    """Validate a configuration mapping (the YAML); raises ValueError saying what is wrong."""
    def num(value: Any, name: str, lo: float, hi: float = math.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise ValueError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
        return float(value)

    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        raise ValueError("config needs a non-empty string `version`")
    outcomes = {}
    for key, spec in (raw.get("outcomes") or {}).items():
        duration = spec.get("duration_years")
        if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 50:
            raise ValueError(f"outcomes.{key}.duration_years must be an integer in [1, 50]")
        outcomes[key] = OutcomeConfig(
            proxy=num(spec.get("proxy"), f"outcomes.{key}.proxy", 0),
            **{f: num(spec.get(f), f"outcomes.{key}.{f}", 0, 1) for f in FACTORS},
            duration_years=duration,
        )
    if not outcomes:
        raise ValueError("config needs at least one outcome")
    vis = raw.get("vis") or {}
    weights = {c: num((vis.get("weights") or {}).get(c), f"vis.weights.{c}", 0, 1) for c in VIS_COMPONENTS}
    if not math.isclose(sum(weights.values()), 1.0, abs_tol=1e-9):
        raise ValueError(f"vis.weights must sum to 1, got {sum(weights.values())}")
    return Config(
        version=version.strip(),
        currency=str(raw.get("currency") or "EUR").upper(),
        discount_rate=num(raw.get("discount_rate"), "discount_rate", 0, 1),
        q2q_threshold=num(raw.get("q2q_threshold"), "q2q_threshold", 0, 1),
        outcomes=outcomes,
        vis_hours_target=num(vis.get("hours_target"), "vis.hours_target", 1e-9),
        vis_weights=weights,
    )


def load_config(path: Path) -> Config:
    return parse_config(yaml.safe_load(path.read_text()))


# ---------------------------------------------------------------- outcomes

# Fact kinds recorded from events.
COURSE, CREDENTIAL, MILESTONE, SCORE, SESSION, RATING = "course", "credential", "milestone", "score", "session", "rating"
OUTCOME_KINDS = (COURSE, CREDENTIAL, MILESTONE, SCORE)


def outcome_key(kind: str, label: str | None, value: float | None, threshold: float) -> str | None:
    """Which SROI outcome a fact counts towards (None: it is not an outcome)."""
    if kind == COURSE:
        return "course_completed"
    if kind == CREDENTIAL:
        return "credential_issued"
    if kind == MILESTONE:
        return "milestone_reached"
    if kind == SCORE and value is not None and value >= threshold:
        return f"q2q_{label}"
    return None


def count_outcomes(facts: Iterable[tuple[str, str | None, float | None]], threshold: float) -> dict[str, int]:
    """(kind, label, value) facts -> outcome counts."""
    counts: dict[str, int] = defaultdict(int)
    for kind, label, value in facts:
        key = outcome_key(kind, label, value, threshold)
        if key is not None:
            counts[key] += 1
    return dict(counts)


# ---------------------------------------------------------------- SROI


@dataclass(frozen=True)
class SroiResult:
    social_value: float              # present value of all outcomes
    investment: float | None
    sroi_ratio: float | None         # None while no (positive) investment is recorded
    steps: list[dict[str, Any]] = field(default_factory=list)


def outcome_present_value(count: int, spec: OutcomeConfig, rate: float) -> tuple[float, dict[str, Any]]:
    """The SROI Guide's chain for one outcome: count x proxy, x (1-deadweight), x (1-attribution),
    x (1-displacement) = year-1 value; year t value = year-1 x (1-drop_off)^(t-1); each year is
    discounted by (1+rate)^t; the present value is the sum over the benefit duration."""
    gross = count * spec.proxy
    after_deadweight = gross * (1 - spec.deadweight)
    after_attribution = after_deadweight * (1 - spec.attribution)
    year1 = after_attribution * (1 - spec.displacement)
    years = []
    for t in range(1, spec.duration_years + 1):
        value = year1 * (1 - spec.drop_off) ** (t - 1)
        pv = value / (1 + rate) ** t
        years.append({"year": t, "value": value, "discount_factor": 1 / (1 + rate) ** t, "present_value": pv})
    present = math.fsum(y["present_value"] for y in years)
    return present, {
        "count": count, "proxy": spec.proxy, "gross": gross,
        "deadweight": spec.deadweight, "after_deadweight": after_deadweight,
        "attribution": spec.attribution, "after_attribution": after_attribution,
        "displacement": spec.displacement, "year1_value": year1,
        "drop_off": spec.drop_off, "duration_years": spec.duration_years,
        "years": years, "present_value": present,
    }


def compute_sroi(counts: Mapping[str, int], investment: float | None, config: Config) -> SroiResult:
    """Social value (present value) of the counted outcomes and its ratio to the investment.
    Outcomes with no configured proxy are reported with value 0 (listed, never silently dropped)."""
    steps = []
    values = []
    for key in sorted(counts):
        count = counts[key]
        if count < 0:
            raise ValueError(f"negative count for {key}")
        spec = config.outcomes.get(key)
        if spec is None:
            steps.append({"outcome": key, "count": count, "present_value": 0.0, "note": "no proxy configured"})
            continue
        pv, detail = outcome_present_value(count, spec, config.discount_rate)
        values.append(pv)
        steps.append({"outcome": key, **detail})
    total = math.fsum(values)
    ratio = total / investment if investment is not None and investment > 0 else None
    return SroiResult(social_value=total, investment=investment, sroi_ratio=ratio, steps=steps)


# ---------------------------------------------------------------- VIS


@dataclass(frozen=True)
class VolunteerStats:
    volunteer: str
    minutes: float
    active_weeks: int
    rating_avg: float | None      # mean participant rating of their sessions (1..5)
    outcome_avg: float | None     # mean q2q score (0..1) of the participants they served


@dataclass(frozen=True)
class VisResult:
    score: float                  # 0..100
    volunteers: list[dict[str, Any]]


def volunteer_score(v: VolunteerStats, *, weeks: int, hours_target: float, weights: Mapping[str, float]) -> dict[str, Any]:
    """Components in [0, 1]; the score is 100 x their weighted mean over the components that
    have data (rating and outcomes may be missing; their weight is then spread over the rest)."""
    components = {
        "hours": min(v.minutes / 60 / hours_target, 1.0),
        "consistency": min(v.active_weeks / weeks, 1.0) if weeks else 0.0,
    }
    if v.rating_avg is not None:
        components["rating"] = min(max((v.rating_avg - 1) / 4, 0.0), 1.0)
    if v.outcome_avg is not None:
        components["outcomes"] = min(max(v.outcome_avg, 0.0), 1.0)
    total_weight = math.fsum(weights[c] for c in components)
    score = 100 * math.fsum(weights[c] * x for c, x in components.items()) / total_weight if total_weight else 0.0
    return {"volunteer": v.volunteer, "hours": v.minutes / 60, "active_weeks": v.active_weeks,
            "rating_avg": v.rating_avg, "outcome_avg": v.outcome_avg, "components": components, "score": score}


def compute_vis(volunteers: Iterable[VolunteerStats], period: str, config: Config) -> VisResult:
    """Company VIS = mean of its volunteers' scores (0 when no volunteer was active)."""
    weeks = weeks_in(period)
    # The hours target is per quarter; a month gets a third of it.
    target = config.vis_hours_target if is_quarter(period) else config.vis_hours_target / 3
    rows = [volunteer_score(v, weeks=weeks, hours_target=target, weights=config.vis_weights)
            for v in sorted(volunteers, key=lambda v: v.volunteer)]
    score = math.fsum(r["score"] for r in rows) / len(rows) if rows else 0.0
    return VisResult(score=min(max(score, 0.0), 100.0), volunteers=rows)


@dataclass(frozen=True)
class SessionFact:
    session_id: str
    volunteer: str
    participant: str
    minutes: float
    started_at: datetime


def volunteer_stats(sessions: Iterable[SessionFact], ratings: Iterable[tuple[str, float]],
                    outcomes: Iterable[tuple[str, float]]) -> list[VolunteerStats]:
    """In-memory twin of store.volunteer_stats: sessions of the period, participant ratings
    (session_id, score) and q2q scores (participant, value) of the period."""
    minutes: dict[str, float] = defaultdict(float)
    weeks: dict[str, set] = defaultdict(set)
    served: dict[str, set] = defaultdict(set)
    volunteer_of: dict[str, str] = {}
    for s in sessions:
        minutes[s.volunteer] += s.minutes
        weeks[s.volunteer].add(s.started_at.astimezone(UTC).isocalendar()[:2])
        served[s.volunteer].add(s.participant)
        volunteer_of[s.session_id] = s.volunteer
    rated: dict[str, list[float]] = defaultdict(list)
    for session_id, score in ratings:
        if session_id in volunteer_of:
            rated[volunteer_of[session_id]].append(score)
    scores: dict[str, list[float]] = defaultdict(list)
    for participant, value in outcomes:
        scores[participant].append(value)
    stats = []
    for v in sorted(minutes):
        values = [x for p in sorted(served[v]) for x in scores.get(p, ())]
        stats.append(VolunteerStats(
            volunteer=v, minutes=minutes[v], active_weeks=len(weeks[v]),
            rating_avg=math.fsum(rated[v]) / len(rated[v]) if rated[v] else None,
            outcome_avg=math.fsum(values) / len(values) if values else None,
        ))
    return stats


# ---------------------------------------------------------------- result


def figures(sroi: SroiResult, vis: VisResult) -> dict[str, Any]:
    """The published figures, rounded (money to cents, ratio to 4 places, VIS to 2)."""
    return {
        "social_value": round(sroi.social_value, 2),
        "investment": None if sroi.investment is None else round(sroi.investment, 2),
        "sroi_ratio": None if sroi.sroi_ratio is None else round(sroi.sroi_ratio, 4),
        "vis_score": round(vis.score, 2),
    }


def changed(before: Mapping[str, Any] | None, after: Mapping[str, Any], config_version: str, before_version: str | None) -> bool:
    return before is None or before_version != config_version or any(before.get(k) != after[k] for k in after)

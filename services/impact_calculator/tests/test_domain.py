"""Unit tests of the pure SROI/VIS calculation (worked examples checked by hand, and properties)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.impact_calculator import calculator, domain

RAW = {
    "version": "t1", "currency": "EUR", "discount_rate": 0.035, "q2q_threshold": 0.6,
    "outcomes": {"course_completed": {"proxy": 1000, "deadweight": 0.2, "attribution": 0.25, "displacement": 0.1,
                                      "drop_off": 0.5, "duration_years": 2},
                 "credential_issued": {"proxy": 500, "deadweight": 0, "attribution": 0, "displacement": 0,
                                       "drop_off": 0, "duration_years": 1}},
    "vis": {"hours_target": 20, "weights": {"hours": 0.35, "rating": 0.25, "consistency": 0.2, "outcomes": 0.2}},
}
CFG = domain.parse_config(RAW)


def test_periods_of_uses_utc_quarter_and_month():
    assert domain.periods_of(datetime(2025, 3, 31, 23, 30, tzinfo=UTC)) == ("2025-Q1", "2025-03")
    assert domain.periods_of(datetime(2025, 4, 1, 0, 30, tzinfo=UTC) + timedelta()) == ("2025-Q2", "2025-04")
    # 01:30 on 1 April in UTC+02:00 is still 31 March in UTC
    from datetime import timezone
    assert domain.periods_of(datetime(2025, 4, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))) == ("2025-Q1", "2025-03")


@pytest.mark.parametrize("text,ok", [("2025-Q1", True), ("2025-Q4", True), ("2025-Q5", False), ("2025-12", True),
                                     ("2025-13", False), ("2025-1", False), ("Q1-2025", False), ("", False)])
def test_is_period(text, ok):
    assert domain.is_period(text) is ok


def test_weeks_in_period():
    assert domain.weeks_in("2025-Q1") == 13  # 90 days
    assert domain.weeks_in("2025-02") == 4
    assert domain.weeks_in("2025-03") == 5


def test_worked_example_one_outcome_by_hand():
    # 3 x 1000 = 3000; x0.8 = 2400; x0.75 = 1800; x0.9 = 1620 (year 1); year 2 = 1620 x 0.5 = 810
    # PV = 1620/1.035 + 810/1.035^2 = 1565.21739 + 756.14367 = 2321.36106; / 1000 = 2.32136
    r = domain.compute_sroi({"course_completed": 3}, 1000.0, CFG)
    step = r.steps[0]
    assert step["gross"] == 3000
    assert step["after_deadweight"] == pytest.approx(2400)
    assert step["after_attribution"] == pytest.approx(1800)
    assert step["year1_value"] == pytest.approx(1620)
    assert [y["value"] for y in step["years"]] == pytest.approx([1620, 810])
    assert [y["present_value"] for y in step["years"]] == pytest.approx([1565.21739, 756.14367], abs=1e-4)
    assert r.social_value == pytest.approx(2321.36106, abs=1e-4)
    assert r.sroi_ratio == pytest.approx(2.32136, abs=1e-5)


def test_worked_example_two_outcomes_sum():
    # credential: 2 x 500 = 1000, no factors, 1 year: 1000/1.035 = 966.18357
    r = domain.compute_sroi({"course_completed": 3, "credential_issued": 2}, 3287.54463, CFG)
    assert r.social_value == pytest.approx(2321.36106 + 966.18357, abs=1e-4)
    assert r.sroi_ratio == pytest.approx(1.0, abs=1e-6)
    assert [s["outcome"] for s in r.steps] == ["course_completed", "credential_issued"]


def test_no_investment_gives_no_ratio_and_unknown_outcomes_are_listed_at_zero():
    r = domain.compute_sroi({"q2q_confidence": 4}, None, CFG)
    assert r.sroi_ratio is None and r.social_value == 0
    assert r.steps == [{"outcome": "q2q_confidence", "count": 4, "present_value": 0.0, "note": "no proxy configured"}]


def test_outcome_keys_and_threshold():
    facts = [("course", "language", None), ("credential", "x", None), ("milestone", "m", None),
             ("score", "confidence", 0.6), ("score", "confidence", 0.59), ("session", None, 45.0), ("rating", None, 5.0)]
    assert domain.count_outcomes(facts, 0.6) == {"course_completed": 1, "credential_issued": 1,
                                                 "milestone_reached": 1, "q2q_confidence": 1}


def test_config_validation_says_what_is_wrong():
    bad = {**RAW, "outcomes": {"x": {**RAW["outcomes"]["course_completed"], "deadweight": 1.5}}}
    with pytest.raises(ValueError, match="outcomes.x.deadweight"):
        domain.parse_config(bad)
    with pytest.raises(ValueError, match="version"):
        domain.parse_config({**RAW, "version": ""})
    with pytest.raises(ValueError, match="sum to 1"):
        domain.parse_config({**RAW, "vis": {"hours_target": 20, "weights": {"hours": 1, "rating": 1, "consistency": 0, "outcomes": 0}}})


def test_shipped_config_is_valid():
    cfg = calculator.config()
    assert cfg.version and cfg.currency == "EUR" and cfg.discount_rate == 0.035
    assert {"course_completed", "credential_issued", "milestone_reached", "q2q_job_readiness"} <= set(cfg.outcomes)


def test_vis_worked_example():
    # hours 10/20 = 0.5, consistency 13/13 = 1, rating (5-1)/4 = 1, outcomes 0.5
    # 100 x (0.35x0.5 + 0.25x1 + 0.2x1 + 0.2x0.5) = 72.5
    v = domain.VolunteerStats("kintell:V1", minutes=600, active_weeks=13, rating_avg=5, outcome_avg=0.5)
    assert domain.compute_vis([v], "2025-Q1", CFG).score == pytest.approx(72.5)
    # no rating: weights renormalised over the rest: (0.175 + 0.2 + 0.1) / 0.75 = 63.33
    v2 = domain.VolunteerStats("kintell:V2", minutes=600, active_weeks=13, rating_avg=None, outcome_avg=0.5)
    assert domain.compute_vis([v2], "2025-Q1", CFG).score == pytest.approx(63.3333, abs=1e-3)
    assert domain.compute_vis([v, v2], "2025-Q1", CFG).score == pytest.approx((72.5 + 63.3333) / 2, abs=1e-3)
    assert domain.compute_vis([], "2025-Q1", CFG).score == 0


def test_vis_month_uses_a_third_of_the_hours_target():
    v = domain.VolunteerStats("v", minutes=400, active_weeks=4, rating_avg=None, outcome_avg=None)  # 6.67h of 6.67h
    assert domain.compute_vis([v], "2025-02", CFG).volunteers[0]["components"] == pytest.approx({"hours": 1.0, "consistency": 1.0})


def test_volunteer_stats_in_memory():
    t = datetime(2025, 1, 6, 10, tzinfo=UTC)  # a Monday
    sessions = [domain.SessionFact("S1", "V1", "P1", 60, t), domain.SessionFact("S2", "V1", "P2", 30, t + timedelta(days=1)),
                domain.SessionFact("S3", "V1", "P1", 45, t + timedelta(days=7)), domain.SessionFact("S4", "V2", "P3", 90, t)]
    stats = domain.volunteer_stats(sessions, [("S1", 5), ("S2", 3), ("S9", 1)], [("P1", 0.8), ("P2", 0.4), ("P9", 0.1)])
    assert stats == [domain.VolunteerStats("V1", 135, 2, 4.0, pytest.approx(0.6)),
                     domain.VolunteerStats("V2", 90, 1, None, None)]


def test_changed_detects_figures_and_config_version():
    f = {"social_value": 1.0, "investment": None, "sroi_ratio": None, "vis_score": 0.0}
    assert domain.changed(None, f, "a", None)
    assert not domain.changed(dict(f), f, "a", "a")
    assert domain.changed(dict(f), f, "b", "a")
    assert domain.changed({**f, "vis_score": 1.0}, f, "a", "a")


counts_st = st.dictionaries(st.sampled_from(["course_completed", "credential_issued"]), st.integers(0, 10_000))
factor = st.floats(0, 1)


@given(counts_st, st.sampled_from(["course_completed", "credential_issued"]), st.integers(1, 100))
def test_sroi_is_monotone_in_outcome_counts(counts, key, extra):
    more = {**counts, key: counts.get(key, 0) + extra}
    assert domain.compute_sroi(more, 100.0, CFG).social_value >= domain.compute_sroi(counts, 100.0, CFG).social_value


@given(st.sampled_from([None, 1.0, 1e6]))
def test_zero_outcomes_zero_value(investment):
    for counts in ({}, {"course_completed": 0, "credential_issued": 0}):
        r = domain.compute_sroi(counts, investment, CFG)
        assert r.social_value == 0 and (r.sroi_ratio in (None, 0))


@given(counts_st, factor, factor, factor, factor, st.integers(1, 10), st.floats(0, 1), st.floats(0, 1e5))
def test_factors_in_unit_interval_keep_value_non_negative(counts, dw, at, dp, do, years, rate, proxy):
    raw = {**RAW, "discount_rate": rate, "outcomes": {k: {"proxy": proxy, "deadweight": dw, "attribution": at,
                                                          "displacement": dp, "drop_off": do, "duration_years": years}
                                                      for k in ("course_completed", "credential_issued")}}
    r = domain.compute_sroi(counts, 10.0, domain.parse_config(raw))
    assert r.social_value >= 0 and all(s["present_value"] >= 0 for s in r.steps)
    # value never exceeds undiscounted gross x years
    assert r.social_value <= math.fsum(c * proxy * years for c in counts.values()) * (1 + 1e-9) + 1e-9


@given(counts_st, st.floats(1, 1e7))
def test_sroi_is_deterministic_and_order_independent(counts, investment):
    a = domain.compute_sroi(counts, investment, CFG)
    b = domain.compute_sroi(dict(reversed(list(counts.items()))), investment, CFG)
    assert a == b


@given(st.lists(st.tuples(st.floats(0, 24 * 60), st.integers(0, 13), st.one_of(st.none(), st.floats(1, 5)),
                          st.one_of(st.none(), st.floats(0, 1))), max_size=20))
def test_vis_stays_in_0_100(rows):
    vols = [domain.VolunteerStats(f"v{i}", m, w, r, o) for i, (m, w, r, o) in enumerate(rows)]
    assert 0 <= domain.compute_vis(vols, "2025-Q1", CFG).score <= 100

"""Unit tests of the pure journey rules (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.unified_profile import domain
from services.unified_profile.domain import COUNTERS, FLAGS, ProfileState
from services.unified_profile.tests.factories import T0, model, ref
from summit_contracts import REGISTRY

EMPTY = ProfileState()


def on_flags(state: ProfileState) -> set[str]:
    return {name for name, value in state.flags.items() if value}


def nonzero_counters(state: ProfileState) -> dict[str, int]:
    return {name: value for name, value in state.counters.items() if value}


def test_rules_cover_exactly_the_consumed_event_families():
    consumed = {spec.type for spec in REGISTRY if spec.domain in {"kintell", "buddy", "upskilling"}}
    assert set(domain.RULES) == consumed


def test_an_empty_profile_has_every_flag_off_and_every_counter_zero():
    assert set(EMPTY.flags) == set(FLAGS) and not on_flags(EMPTY)
    assert set(EMPTY.counters) == set(COUNTERS) and not nonzero_counters(EMPTY)
    assert EMPTY.last_activity_at is None


@pytest.mark.parametrize(
    ("event_type", "overrides", "flags", "counters", "touches"),
    [
        ("kintell.session.scheduled.v1", {}, {"has_scheduled_language"}, {}, False),
        ("kintell.session.scheduled.v1", {"session_type": "mentorship"}, {"has_scheduled_mentorship"}, {}, False),
        ("kintell.session.completed.v1", {}, {"has_completed_language"}, {"language_sessions_completed": 1}, True),
        ("kintell.session.completed.v1", {"session_type": "mentorship"}, {"has_completed_mentorship"},
         {"mentorship_sessions_completed": 1}, True),
        ("kintell.rating.created.v1", {}, {"has_rated_session"}, {}, True),
        ("buddy.match.created.v1", {}, {"is_buddy_matched"}, {}, True),
        ("buddy.event.logged.v1", {}, {"has_buddy_activity"}, {"buddy_events": 1}, True),
        ("buddy.checkin.completed.v1", {}, {"has_buddy_checkin"}, {"buddy_checkins": 1}, True),
        ("buddy.feedback.submitted.v1", {}, {"has_given_feedback"}, {}, True),
        ("buddy.feedback.submitted.v1", {"from_role": " Participant "}, {"has_given_feedback"}, {}, True),
        ("buddy.feedback.submitted.v1", {"from_role": "buddy"}, set(), {}, False),
        ("upskilling.course.completed.v1", {},
         {"has_started_course", "has_completed_course", "has_completed_language_course"}, {"courses_completed": 1}, True),
        ("upskilling.course.completed.v1", {"category": "Language"},
         {"has_started_course", "has_completed_course", "has_completed_language_course"}, {"courses_completed": 1}, True),
        ("upskilling.course.completed.v1", {"category": "digital"},
         {"has_started_course", "has_completed_course"}, {"courses_completed": 1}, True),
        ("upskilling.course.completed.v1", {"category": None},
         {"has_started_course", "has_completed_course"}, {"courses_completed": 1}, True),
        ("upskilling.credential.issued.v1", {}, {"has_credential"}, {"credentials": 1}, True),
        ("upskilling.progress.updated.v1", {}, {"has_started_course"}, {}, True),
        ("upskilling.progress.updated.v1", {"percent_complete": 0}, set(), {}, False),
    ],
)
def test_each_rule_on_an_empty_profile(event_type, overrides, flags, counters, touches):
    after = domain.apply_event(EMPTY, event_type, model(event_type, **overrides))
    assert on_flags(after) == flags
    assert nonzero_counters(after) == counters
    assert after.last_activity_at == (T0 if touches else None)


def test_the_participant_of_an_event():
    person = ref("kintell", "K-7")
    assert domain.participant_of("kintell.session.completed.v1", model("kintell.session.completed.v1", person)).id == "K-7"
    assert domain.participant_of("buddy.match.created.v1", model("buddy.match.created.v1", ref("buddy", "B-1"))).system == "buddy"
    rating = model("kintell.rating.created.v1", person)
    assert domain.participant_of("kintell.rating.created.v1", rating) == rating.rated_by


def test_a_volunteers_rating_is_about_no_participant():
    rating = model("kintell.rating.created.v1", ref("kintell", "V-9"), rater_role="volunteer")
    assert domain.participant_of("kintell.rating.created.v1", rating) is None


def test_fact_keys_name_the_business_fact():
    scheduled = domain.fact_key("kintell.session.scheduled.v1", model("kintell.session.scheduled.v1", fact="S-1"))
    completed = domain.fact_key("kintell.session.completed.v1", model("kintell.session.completed.v1", fact="S-1"))
    assert scheduled == "kintell.session.scheduled:S-1"
    assert completed == "kintell.session.completed:S-1"
    assert domain.fact_key("upskilling.progress.updated.v1", model("upskilling.progress.updated.v1")) is None


def test_counters_add_up_and_flags_stay_on():
    state = EMPTY
    for n in range(3):
        state = domain.apply_event(state, "buddy.event.logged.v1", model("buddy.event.logged.v1", fact=f"E-{n}", minute=n))
    assert state.counters["buddy_events"] == 3
    assert state.flags["has_buddy_activity"] is True
    assert state.last_activity_at == T0 + timedelta(minutes=2)


def test_an_older_event_does_not_move_last_activity_back():
    newer = domain.apply_event(EMPTY, "buddy.match.created.v1", model("buddy.match.created.v1", minute=60))
    after = domain.apply_event(newer, "buddy.event.logged.v1", model("buddy.event.logged.v1", minute=5))
    assert after.last_activity_at == T0 + timedelta(minutes=60)
    assert domain.changed_names(newer, after) == ("has_buddy_activity", "buddy_events")


def test_naive_timestamps_are_read_as_utc_and_compare_with_aware_ones():
    naive = model("buddy.match.created.v1", matched_at="2025-03-01T10:00:00")
    aware = model("buddy.event.logged.v1", occurred_at="2025-03-01T11:00:00+02:00")  # 09:00 UTC
    state = domain.apply_event(EMPTY, "buddy.event.logged.v1", aware)
    state = domain.apply_event(state, "buddy.match.created.v1", naive)
    assert state.last_activity_at == datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def test_apply_events_skips_a_business_fact_seen_before():
    completed = model("kintell.session.completed.v1", fact="S-1")
    events = [("kintell.session.completed.v1", completed)] * 3
    assert domain.apply_events(EMPTY, events).counters["language_sessions_completed"] == 1
    assert domain.apply_events(EMPTY, events, seen=["kintell.session.completed:S-1"]) == EMPTY


def test_progress_updates_are_idempotent_without_a_fact_key():
    progress = model("upskilling.progress.updated.v1")
    once = domain.apply_events(EMPTY, [("upskilling.progress.updated.v1", progress)])
    twice = domain.apply_events(EMPTY, [("upskilling.progress.updated.v1", progress)] * 2)
    assert once == twice and once.flags["has_started_course"]


def test_changed_names_and_turned_on():
    before = domain.apply_event(EMPTY, "buddy.match.created.v1", model("buddy.match.created.v1"))
    assert domain.changed_names(before, before) == ()
    assert domain.turned_on(before, before) == ()
    after = domain.apply_event(before, "upskilling.credential.issued.v1", model("upskilling.credential.issued.v1", minute=1))
    assert domain.changed_names(before, after) == ("has_credential", "credentials", "last_activity_at")
    assert domain.turned_on(before, after) == ("has_credential",)  # is_buddy_matched was on already


def test_a_repeated_flag_event_changes_only_what_it_counts():
    first = domain.apply_event(EMPTY, "upskilling.course.completed.v1", model("upskilling.course.completed.v1", fact="C1"))
    second = domain.apply_event(first, "upskilling.course.completed.v1", model("upskilling.course.completed.v1", fact="C2"))
    assert domain.changed_names(first, second) == ("courses_completed",)
    assert domain.turned_on(first, second) == ()


def test_set_flags_turns_flags_on_and_off():
    on = domain.set_flags(EMPTY, {"has_credential": True, "is_buddy_matched": True})
    assert on_flags(on) == {"has_credential", "is_buddy_matched"}
    off = domain.set_flags(on, {"has_credential": False})
    assert on_flags(off) == {"is_buddy_matched"}
    assert domain.turned_on(off, on) == ("has_credential",)
    assert domain.changed_names(on, off) == ("has_credential",)
    assert domain.set_flags(on, {}) == on


def test_set_flags_rejects_unknown_names():
    assert domain.unknown_flags(["is_buddy_matched", "zz_bogus", "aa_bogus"]) == ["aa_bogus", "zz_bogus"]
    with pytest.raises(ValueError, match="aa_bogus"):
        domain.set_flags(EMPTY, {"aa_bogus": True})


def test_from_stored_fills_new_names_and_drops_retired_ones():
    state = ProfileState.from_stored({"has_credential": True, "retired_flag": True}, {"credentials": 2, "gone": 9},
                                     datetime(2025, 1, 1))
    assert set(state.flags) == set(FLAGS) and on_flags(state) == {"has_credential"}
    assert set(state.counters) == set(COUNTERS) and nonzero_counters(state) == {"credentials": 2}
    assert state.last_activity_at == datetime(2025, 1, 1, tzinfo=UTC)


# --- properties ----------------------------------------------------------------------------

PEOPLE = [ref("kintell", "K-1")]


@st.composite
def journey_event(draw, fact: str):
    """A random event of any consumed type recording the business fact `fact`."""
    event_type = draw(st.sampled_from(sorted(domain.RULES)))
    overrides = {}
    if event_type.startswith("kintell.session"):
        overrides["session_type"] = draw(st.sampled_from(["language", "mentorship"]))
    if event_type == "kintell.rating.created.v1":
        overrides["rater_role"] = draw(st.sampled_from(["participant", "volunteer"]))
    if event_type == "buddy.feedback.submitted.v1":
        overrides["from_role"] = draw(st.sampled_from(["participant", "buddy"]))
    if event_type == "upskilling.course.completed.v1":
        overrides["category"] = draw(st.sampled_from(["language", "digital", None]))
    if event_type == "upskilling.progress.updated.v1":
        overrides["percent_complete"] = draw(st.sampled_from([0.0, 10.0, 100.0]))
    minute = draw(st.integers(min_value=0, max_value=10_000))
    return event_type, model(event_type, PEOPLE[0], fact, minute, **overrides)


@st.composite
def journeys(draw, max_facts: int = 20):
    """Distinct business facts plus re-deliveries of some of them (same fact, same data),
    as the bus and re-sending producers deliver them."""
    size = draw(st.integers(min_value=0, max_value=max_facts))
    facts = [draw(journey_event(f"F{n}")) for n in range(size)]
    repeats = draw(st.lists(st.sampled_from(facts), max_size=10)) if facts else []
    return facts + repeats


@settings(max_examples=200, deadline=None)
@given(events=journeys(), data=st.data())
def test_any_order_of_the_same_events_gives_the_same_profile(events, data):
    shuffled = data.draw(st.permutations(events))
    assert domain.apply_events(EMPTY, shuffled) == domain.apply_events(EMPTY, events)


@settings(max_examples=200, deadline=None)
@given(start=journeys(max_facts=10), event=journey_event("NEW"))
def test_events_never_turn_flags_off_or_counters_down(start, event):
    before = domain.apply_events(EMPTY, start)
    after = domain.apply_event(before, *event)
    assert on_flags(before) <= on_flags(after)
    assert all(after.counters[n] >= before.counters[n] for n in COUNTERS)
    if before.last_activity_at is not None:
        assert after.last_activity_at >= before.last_activity_at
    assert set(domain.turned_on(before, after)) == on_flags(after) - on_flags(before)


@settings(max_examples=100, deadline=None)
@given(events=journeys())
def test_replaying_the_same_events_again_changes_nothing(events):
    once = domain.apply_events(EMPTY, events)
    assert domain.apply_events(EMPTY, events + events) == once


@settings(max_examples=100, deadline=None)
@given(events=journeys())
def test_counters_count_distinct_business_facts(events):
    state = domain.apply_events(EMPTY, events)
    distinct = {domain.fact_key(t, d): (t, d) for t, d in events}
    logged = sum(1 for t, _ in distinct.values() if t == "buddy.event.logged.v1")
    credentials = sum(1 for t, _ in distinct.values() if t == "upskilling.credential.issued.v1")
    assert state.counters["buddy_events"] == logged
    assert state.counters["credentials"] == credentials

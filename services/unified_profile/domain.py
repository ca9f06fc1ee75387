"""Pure journey logic of the unified profile: no I/O.

Consumes (as validated event data): every kintell.*, buddy.* and upskilling.* event.
Produces: a new `ProfileState` per event (flags, counters, last_activity_at), the names
that changed, and the flags that turned on (journey milestone candidates).

The rules are one table, `RULES`: event type -> who the event is about, which business
fact it records (for de-duplication), and how it changes the state. Every rule only
turns flags on, adds to counters and takes the max of timestamps, so applying a set of
events gives the same state in any order (the bus does not order events across types).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from summit_contracts.events.common import ExternalRef

# Journey flags: each is also a milestone the first time it turns on for a profile.
FLAGS: tuple[str, ...] = (
    "has_scheduled_language",
    "has_scheduled_mentorship",
    "has_completed_language",
    "has_completed_mentorship",
    "has_rated_session",
    "is_buddy_matched",
    "has_buddy_activity",
    "has_buddy_checkin",
    "has_given_feedback",
    "has_started_course",
    "has_completed_course",
    "has_completed_language_course",
    "has_credential",
)

COUNTERS: tuple[str, ...] = (
    "language_sessions_completed",
    "mentorship_sessions_completed",
    "buddy_events",
    "buddy_checkins",
    "courses_completed",
    "credentials",
)

LAST_ACTIVITY = "last_activity_at"
IDENTITIES = "identities"


@dataclass(frozen=True)
class ProfileState:
    """The derived part of a profile. Treat the mappings as read-only: rules return new states."""

    flags: Mapping[str, bool] = field(default_factory=lambda: dict.fromkeys(FLAGS, False))
    counters: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    last_activity_at: datetime | None = None

    @classmethod
    def from_stored(cls, flags: Mapping[str, Any], counters: Mapping[str, Any], last_activity_at: datetime | None) -> ProfileState:
        """Fill in names added to FLAGS/COUNTERS after the row was written; drop retired ones."""
        return cls(
            flags={name: bool(flags.get(name, False)) for name in FLAGS},
            counters={name: int(counters.get(name, 0)) for name in COUNTERS},
            last_activity_at=as_utc(last_activity_at) if last_activity_at else None,
        )


def as_utc(moment: datetime) -> datetime:
    """Producers may send naive timestamps; read them as UTC so max() never compares naive with aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- small building blocks of the rules -------------------------------------------------


def turn_on(state: ProfileState, *flags: str) -> ProfileState:
    return replace(state, flags={**state.flags, **dict.fromkeys(flags, True)})


def increment(state: ProfileState, counter: str, by: int = 1) -> ProfileState:
    return replace(state, counters={**state.counters, counter: state.counters.get(counter, 0) + by})


def touch(state: ProfileState, moment: datetime) -> ProfileState:
    moment = as_utc(moment)
    if state.last_activity_at is not None and state.last_activity_at >= moment:
        return state
    return replace(state, last_activity_at=moment)


# --- the rules --------------------------------------------------------------------------


def _session_scheduled(state: ProfileState, data: Any) -> ProfileState:
    # A booking is intent, not activity (scheduled_at is usually in the future): no touch.
    return turn_on(state, f"has_scheduled_{data.session_type}")


def _session_completed(state: ProfileState, data: Any) -> ProfileState:
    state = turn_on(state, f"has_completed_{data.session_type}")
    state = increment(state, f"{data.session_type}_sessions_completed")
    return touch(state, data.started_at)


def _rating_created(state: ProfileState, data: Any) -> ProfileState:
    return touch(turn_on(state, "has_rated_session"), data.created_at)


def _match_created(state: ProfileState, data: Any) -> ProfileState:
    return touch(turn_on(state, "is_buddy_matched"), data.matched_at)


def _buddy_event_logged(state: ProfileState, data: Any) -> ProfileState:
    return touch(increment(turn_on(state, "has_buddy_activity"), "buddy_events"), data.occurred_at)


def _checkin_completed(state: ProfileState, data: Any) -> ProfileState:
    return touch(increment(turn_on(state, "has_buddy_checkin"), "buddy_checkins"), data.completed_at)


def _feedback_submitted(state: ProfileState, data: Any) -> ProfileState:
    # Feedback the buddy gives about the match is not something the participant did.
    if data.from_role.strip().lower() != "participant":
        return state
    return touch(turn_on(state, "has_given_feedback"), data.submitted_at)


def _course_completed(state: ProfileState, data: Any) -> ProfileState:
    state = turn_on(state, "has_started_course", "has_completed_course")
    if (data.category or "").strip().lower() == "language":
        state = turn_on(state, "has_completed_language_course")
    return touch(increment(state, "courses_completed"), data.completed_at)


def _credential_issued(state: ProfileState, data: Any) -> ProfileState:
    return touch(increment(turn_on(state, "has_credential"), "credentials"), data.issued_at)


def _progress_updated(state: ProfileState, data: Any) -> ProfileState:
    # 0% is an enrolment, not progress.
    if data.percent_complete <= 0:
        return state
    return touch(turn_on(state, "has_started_course"), data.updated_at)


def _participant(data: Any) -> ExternalRef | None:
    return data.participant


def _participant_rater(data: Any) -> ExternalRef | None:
    # Profiles are of participants; a volunteer's rating is about someone else's journey.
    return data.rated_by if data.rater_role == "participant" else None


@dataclass(frozen=True)
class Rule:
    """How one event type changes the profile of the participant it is about."""

    apply: Callable[[ProfileState, Any], ProfileState]
    fact_id: str | None  # data field naming the business fact; None = the rule is idempotent by itself
    participant: Callable[[Any], ExternalRef | None] = _participant


RULES: dict[str, Rule] = {
    "kintell.session.scheduled.v1": Rule(_session_scheduled, fact_id="session_id"),
    "kintell.session.completed.v1": Rule(_session_completed, fact_id="session_id"),
    "kintell.rating.created.v1": Rule(_rating_created, fact_id="rating_id", participant=_participant_rater),
    "buddy.match.created.v1": Rule(_match_created, fact_id="match_id"),
    "buddy.event.logged.v1": Rule(_buddy_event_logged, fact_id="event_id"),
    "buddy.checkin.completed.v1": Rule(_checkin_completed, fact_id="checkin_id"),
    "buddy.feedback.submitted.v1": Rule(_feedback_submitted, fact_id="feedback_id"),
    "upskilling.course.completed.v1": Rule(_course_completed, fact_id="completion_id"),
    "upskilling.credential.issued.v1": Rule(_credential_issued, fact_id="credential_id"),
    "upskilling.progress.updated.v1": Rule(_progress_updated, fact_id=None),
}


def participant_of(event_type: str, data: Any) -> ExternalRef | None:
    """The participant an event is about, or None when it is about no participant."""
    return RULES[event_type].participant(data)


def fact_key(event_type: str, data: Any) -> str | None:
    """The business fact an event records. The same fact re-sent under a new event id
    (a webhook retry, a CSV re-import) must not count twice; the inbox only catches
    the same (source, id). A re-sent fact is assumed to carry the same data: the first
    one applied wins."""
    rule = RULES[event_type]
    if rule.fact_id is None:
        return None
    return f"{event_type.rsplit('.v', 1)[0]}:{getattr(data, rule.fact_id)}"


def apply_event(state: ProfileState, event_type: str, data: Any) -> ProfileState:
    return RULES[event_type].apply(state, data)


def apply_events(state: ProfileState, events: Iterable[tuple[str, Any]], seen: Iterable[str] = ()) -> ProfileState:
    """Fold events into a state, skipping business facts already seen: what the handler
    does one event at a time, in one function for tests and replays."""
    seen_facts = set(seen)
    for event_type, data in events:
        key = fact_key(event_type, data)
        if key is not None:
            if key in seen_facts:
                continue
            seen_facts.add(key)
        state = apply_event(state, event_type, data)
    return state


# --- comparing states -------------------------------------------------------------------


def changed_names(before: ProfileState, after: ProfileState) -> tuple[str, ...]:
    """Names of the flags, counters and fields that differ, in a stable order."""
    names = [n for n in FLAGS if before.flags.get(n, False) != after.flags.get(n, False)]
    names += [n for n in COUNTERS if before.counters.get(n, 0) != after.counters.get(n, 0)]
    if before.last_activity_at != after.last_activity_at:
        names.append(LAST_ACTIVITY)
    return tuple(names)


def turned_on(before: ProfileState, after: ProfileState) -> tuple[str, ...]:
    """Flags that were off and are now on: candidates for a first-time milestone."""
    return tuple(n for n in FLAGS if after.flags.get(n, False) and not before.flags.get(n, False))


# --- manual changes (PUT) ---------------------------------------------------------------


def unknown_flags(names: Iterable[str]) -> list[str]:
    known = set(FLAGS)
    return sorted(n for n in names if n not in known)


def set_flags(state: ProfileState, updates: Mapping[str, bool]) -> ProfileState:
    """Set flags by hand (on or off). Callers reject unknown names first (`unknown_flags`)."""
    unknown = unknown_flags(updates)
    if unknown:
        raise ValueError(f"unknown flags: {', '.join(unknown)}")
    return replace(state, flags={**state.flags, **{n: bool(v) for n, v in updates.items()}})

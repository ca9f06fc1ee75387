"""The safety gate (pure): what an item's facts allow, in any order, and which texts events carry."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.q2q_ai import domain
from services.q2q_ai.domain import Action, Status
from summit_contracts.events import buddy, kintell

AT = datetime(2025, 3, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("has_text", "verdict", "review", "expected"),
    [
        (True, None, None, (Status.AWAITING_SCREENING, Action.NONE)),
        (False, "clear", None, (Status.AWAITING_TEXT, Action.NONE)),
        (True, "clear", None, (Status.SCORED, Action.SCORE)),
        (True, "held", None, (Status.AWAITING_REVIEW, Action.NONE)),
        (True, "held", "escalated", (Status.AWAITING_REVIEW, Action.NONE)),
        (True, "held", "approved", (Status.SCORED, Action.SCORE)),
        (False, "held", "approved", (Status.AWAITING_TEXT, Action.NONE)),
        (True, "held", "rejected", (Status.DISCARDED, Action.DISCARD)),
        (False, "held", "rejected", (Status.DISCARDED, Action.DISCARD)),  # the text will never be stored
        (False, "held", None, (Status.AWAITING_TEXT, Action.NONE)),
    ],
)
def test_gate_table(has_text, verdict, review, expected):
    assert domain.gate(None, has_text=has_text, verdict=verdict, review=review) == expected


@pytest.mark.parametrize("status", [Status.SCORED, Status.DISCARDED, "scored", "discarded"])
def test_a_settled_item_never_moves_again(status):
    for has_text, verdict, review in itertools.product((True, False), (None, "clear", "held"),
                                                       (None, "approved", "rejected", "escalated")):
        assert domain.gate(status, has_text=has_text, verdict=verdict, review=review) == (Status(status), Action.NONE)


@pytest.mark.parametrize(
    ("stored", "incoming", "expected"),
    [(None, "escalated", "escalated"), (None, "approved", "approved"), ("escalated", "approved", "approved"),
     ("escalated", "rejected", "rejected"), ("approved", "escalated", "approved"), ("rejected", "approved", "rejected"),
     ("approved", "rejected", "approved")],
)
def test_the_first_final_review_decision_stands(stored, incoming, expected):
    assert domain.merge_decision(stored, incoming) == expected


# --- any order: simulate the handlers' fold over the facts ------------------------------

FACTS = st.sampled_from(["text", "clear", "held", "approved", "rejected", "escalated"])


def fold(facts):
    """What the service does with facts in this order (the pure part of handlers.py)."""
    status, has_text, verdict, review, actions = None, False, None, None, []
    for fact in facts:
        if fact == "text":
            if has_text or status == Status.DISCARDED:
                continue
            has_text = True
        elif fact in ("clear", "held"):
            if verdict is not None:
                continue  # the first verdict stands
            verdict = fact
        else:
            review = domain.merge_decision(review, fact)
        status, action = domain.gate(status, has_text=has_text,
                                     verdict=verdict, review=review if verdict == "held" else None)
        if action is not Action.NONE:
            actions.append(action)
    return status, actions


@settings(deadline=None)
@given(st.lists(FACTS, max_size=8).flatmap(lambda xs: st.permutations(xs).map(lambda p: (xs, p))))
def test_facts_in_any_order_end_in_the_same_place_and_act_at_most_once(pair):
    original, permuted = pair
    first = fold(original)
    second = fold(permuted)
    assert len(first[1]) <= 1 and len(second[1]) <= 1
    # Order matters only through 'first verdict wins' and 'first final decision wins':
    verdicts = [f for f in original if f in ("clear", "held")]
    finals = [f for f in original if f in ("approved", "rejected")]
    if len(set(verdicts)) <= 1 and len(set(finals)) <= 1:
        assert first == second


@settings(deadline=None)
@given(st.permutations(["text", "held", "approved"]))
def test_held_then_approved_scores_once_whatever_the_order(order):
    assert fold(order) == (Status.SCORED, [Action.SCORE])


@settings(deadline=None)
@given(st.permutations(["text", "held", "rejected"]))
def test_held_then_rejected_is_discarded_whatever_the_order(order):
    assert fold(order) == (Status.DISCARDED, [Action.DISCARD])


@settings(deadline=None)
@given(st.permutations(["text", "clear"]))
def test_clear_scores_whatever_the_order(order):
    assert fold(order) == (Status.SCORED, [Action.SCORE])


# --- which events carry which text ------------------------------------------------------

P = {"system": "buddy", "id": "B-7"}


def test_feedback_text_is_the_participants():
    data = buddy.FeedbackSubmitted(feedback_id="F-1", match_id="M-1", participant=P, from_role="participant",
                                   text="I feel welcome", submitted_at=AT)
    item = domain.text_item(domain.FEEDBACK, data)
    assert (item.content_type, item.content_id, item.participant.id, item.text, item.observed_at) == (
        "buddy.feedback.submitted.v1", "F-1", "B-7", "I feel welcome", AT)
    assert item.known_names == ("B-7",)


def test_checkin_and_session_notes():
    checkin = buddy.CheckinCompleted(checkin_id="C-1", match_id="M-1", participant=P, completed_at=AT, notes="ok")
    assert domain.text_item(domain.CHECKIN, checkin).content_id == "C-1"
    session = kintell.SessionCompleted(
        session_id="S-1", session_type="language", participant={"system": "kintell", "id": "K-1"},
        volunteer={"system": "kintell", "id": "ingrid.hansen"}, started_at=AT, duration_minutes=45, notes="Good")
    item = domain.text_item(domain.SESSION, session)
    assert (item.content_id, item.participant.system, item.known_names) == ("S-1", "kintell", ("K-1", "ingrid.hansen"))


def test_a_participants_rating_comment_is_theirs_and_a_volunteers_is_not_scored():
    def rating(role):
        return kintell.RatingCreated(rating_id="R-1", session_id="S-1", rated_by={"system": "kintell", "id": "K-9"},
                                     rater_role=role, score=4, comment="Helpful", created_at=AT)

    item = domain.text_item(domain.RATING, rating("participant"))
    assert (item.content_id, item.participant.id) == ("R-1", "K-9")
    assert domain.text_item(domain.RATING, rating("volunteer")) is None


@pytest.mark.parametrize("text", [None, "", "   \n\t"])
def test_no_text_means_nothing_to_score(text):
    data = buddy.FeedbackSubmitted(feedback_id="F-1", match_id="M-1", participant=P, from_role="buddy", text=text,
                                   submitted_at=AT)
    assert domain.text_item(domain.FEEDBACK, data) is None


def test_an_event_without_text_is_refused():
    with pytest.raises(ValueError, match="carries no text"):
        domain.text_item("buddy.match.created.v1", object())

"""Valid event data for every consumed type, shared by the unit and integration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from summit_contracts import REGISTRY

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def ref(system: str, external_id: str) -> dict[str, str]:
    return {"system": system, "id": external_id}


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def event_data(event_type: str, participant: dict[str, str], fact: str, minute: int = 0, **overrides: Any) -> dict[str, Any]:
    """Data for `event_type` about `participant`; `fact` is the business id (session, match, ...)."""
    when = at(minute)
    builders = {
        "kintell.session.scheduled.v1": lambda: {
            "session_id": fact, "session_type": "language", "participant": participant,
            "volunteer": ref("kintell", "V-1"), "scheduled_at": when},
        "kintell.session.completed.v1": lambda: {
            "session_id": fact, "session_type": "language", "participant": participant,
            "volunteer": ref("kintell", "V-1"), "started_at": when, "duration_minutes": 45},
        "kintell.rating.created.v1": lambda: {
            "rating_id": fact, "session_id": "S-any", "rated_by": participant, "rater_role": "participant",
            "score": 5, "created_at": when},
        "buddy.match.created.v1": lambda: {
            "match_id": fact, "participant": participant, "buddy": ref("buddy", "BUD-1"), "matched_at": when},
        "buddy.event.logged.v1": lambda: {
            "event_id": fact, "match_id": "M-1", "participant": participant, "category": "cultural", "occurred_at": when},
        "buddy.checkin.completed.v1": lambda: {
            "checkin_id": fact, "match_id": "M-1", "participant": participant, "completed_at": when, "mood": 4},
        "buddy.feedback.submitted.v1": lambda: {
            "feedback_id": fact, "match_id": "M-1", "participant": participant, "from_role": "participant",
            "rating": 5, "submitted_at": when},
        "upskilling.course.completed.v1": lambda: {
            "completion_id": fact, "participant": participant, "provider": "ecornell", "course_id": "C-1",
            "course_name": "Norwegian A1", "category": "language", "completed_at": when},
        "upskilling.credential.issued.v1": lambda: {
            "credential_id": fact, "participant": participant, "provider": "ecornell", "name": "Certificate",
            "issued_at": when},
        "upskilling.progress.updated.v1": lambda: {
            "participant": participant, "provider": "ecornell", "course_id": fact, "percent_complete": 40.0,
            "updated_at": when},
    }
    return {**builders[event_type](), **overrides}


def model(event_type: str, participant: dict[str, str] | None = None, fact: str = "F-1", minute: int = 0, **overrides: Any):
    """The validated Pydantic data, as a handler receives it."""
    data = event_data(event_type, participant or ref("kintell", "K-1"), fact, minute, **overrides)
    return REGISTRY.get(event_type).validate(data)

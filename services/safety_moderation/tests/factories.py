"""Valid event data for every consumed type, shared by the unit and integration tests."""

from __future__ import annotations

from typing import Any

from summit_contracts import REGISTRY

WHEN = "2025-03-01T09:00:00+00:00"
PARTICIPANT = {"system": "kintell", "id": "K-1042"}


def event_data(event_type: str, content_id: str, text: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Data for `event_type` whose record id is `content_id` and whose free text is `text`."""
    builders = {
        "buddy.feedback.submitted.v1": lambda: {
            "feedback_id": content_id, "match_id": "M-1", "participant": PARTICIPANT, "from_role": "participant",
            "rating": 4, "text": text, "submitted_at": WHEN},
        "buddy.checkin.completed.v1": lambda: {
            "checkin_id": content_id, "match_id": "M-1", "participant": PARTICIPANT, "completed_at": WHEN, "mood": 3,
            "notes": text},
        "kintell.session.completed.v1": lambda: {
            "session_id": content_id, "session_type": "language", "participant": PARTICIPANT,
            "volunteer": {"system": "kintell", "id": "V-1"}, "started_at": WHEN, "duration_minutes": 45, "notes": text},
        "kintell.rating.created.v1": lambda: {
            "rating_id": content_id, "session_id": "S-1", "rated_by": PARTICIPANT, "rater_role": "participant",
            "score": 4, "comment": text, "created_at": WHEN},
    }
    return {**builders[event_type](), **overrides}


def model(event_type: str, content_id: str = "C-1", text: str | None = None, **overrides: Any):
    """The validated Pydantic data, as a handler receives it."""
    return REGISTRY.get(event_type).validate(event_data(event_type, content_id, text, **overrides))

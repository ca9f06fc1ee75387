"""Log lines written while a handler runs carry the event's ids (and only ids)."""

from summit_common import logs
from summit_contracts import new_event


def test_lines_inside_a_handler_carry_the_event_ids_and_none_outside():
    event = new_event("kintell.rating.created.v1", {
        "rating_id": "R-1", "session_id": "S-1", "rated_by": {"system": "kintell", "id": "P-1"},
        "rater_role": "participant", "score": 5, "created_at": "2026-01-01T00:00:00Z"},
        source="t", tenantid="acme", correlationid="corr-1")
    assert logs.add_event_ids(None, "info", {"event": "x"}) == {"event": "x"}
    token = logs.handling.set((event, "ab" * 16))
    try:
        line = logs.add_event_ids(None, "info", {"event": "x", "tenant": "explicit"})
    finally:
        logs.handling.reset(token)
    assert line == {"event": "x", "event_id": event.id, "event_type": event.type, "tenant": "explicit",
                    "correlation_id": "corr-1", "trace_id": "ab" * 16}
    assert "P-1" not in str(line)  # ids only, never the payload

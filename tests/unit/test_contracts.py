"""The contracts package: envelope rules, registry, JSON Schema export (no I/O)."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from summit_contracts import REGISTRY, CloudEvent, EnvelopeError, UnknownEventType, nats_msg_id, new_event, new_id
from summit_contracts.registry import TYPE_PATTERN, EventDataError

SEED_004_TYPES = {
    "buddy.match.created.v1", "buddy.event.logged.v1", "buddy.checkin.completed.v1", "buddy.feedback.submitted.v1",
    "kintell.session.completed.v1", "kintell.rating.created.v1", "kintell.session.scheduled.v1",
    "upskilling.course.completed.v1", "upskilling.credential.issued.v1", "upskilling.progress.updated.v1",
    "orchestration.journey.milestone.reached.v1", "orchestration.profile.updated.v1",
    "safety.flag.raised.v1", "safety.review.completed.v1",
}


def test_every_seed_004_event_is_registered_with_an_owner_and_a_schema():
    registered = {spec.type for spec in REGISTRY}
    assert SEED_004_TYPES <= registered
    for spec in REGISTRY:
        schema = spec.json_schema()
        assert schema["type"] == "object" and schema["properties"], spec.type
        assert schema["x-summit-owner"] == spec.owner
        assert spec.major == 1 or spec.type.startswith(("probe.", "bench."))


def test_minted_ids_are_uuidv7_and_time_ordered():
    ids = [new_id() for _ in range(50)]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert ids == sorted(ids)


def test_new_event_sets_summit_attributes():
    event = new_event("kintell.rating.created.v1", {"a": 1}, source="kintell-connector", tenantid="acme", subject="s1")
    body = json.loads(event.to_json())
    assert body["specversion"] == "1.0"
    assert body["tenantid"] == "acme" and body["subject"] == "s1"
    assert body["correlationid"] == body["id"]  # a new flow correlates to itself
    assert body["time"].endswith("Z") or "+00:00" in body["time"]


def test_round_trip_keeps_unknown_extensions():
    raw = json.dumps({"specversion": "1.0", "id": "x", "source": "ext", "type": "t.e.a.v1", "myext": "kept"})
    event = CloudEvent.from_json(raw)
    assert event.extensions() == {"myext": "kept"}
    assert json.loads(event.to_json())["myext"] == "kept"


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("{oops", "malformed JSON"),
        ("[]", "JSON object"),
        ('{"specversion": "1.0", "source": "s", "type": "t"}', "id"),
        ('{"specversion": "1.0", "id": "", "source": "s", "type": "t"}', "id"),
        ('{"specversion": "0.3", "id": "1", "source": "s", "type": "t"}', "specversion"),
        ('{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "Bad-Name": 1}', "extension"),
        ('{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data_base64": "AA=="}', "data_base64"),
    ],
)
def test_invalid_envelopes_say_why(raw, needle):
    with pytest.raises(EnvelopeError, match=needle):
        CloudEvent.from_json(raw)


def test_unknown_major_version_names_the_known_ones():
    with pytest.raises(UnknownEventType, match="kintell.session.completed.v1"):
        REGISTRY.get("kintell.session.completed.v2")


def test_data_validation_error_names_the_field():
    with pytest.raises(EventDataError, match="score"):
        REGISTRY.get("kintell.rating.created.v1").validate(
            {"rating_id": "r", "session_id": "s", "rated_by": {"system": "kintell", "id": "1"}, "rater_role": "participant",
             "score": 9, "created_at": "2026-01-01T00:00:00Z"}
        )


def test_type_pattern():
    assert TYPE_PATTERN.match("orchestration.journey.milestone.reached.v1")
    for bad in ("kintell.session", "Kintell.session.completed.v1", "a.b.c.v0", "a.b.c.1"):
        assert not TYPE_PATTERN.match(bad)


@given(st.text(min_size=1, max_size=50), st.text(min_size=1, max_size=50), st.text(min_size=1, max_size=50))
def test_msg_id_separates_sources(source_a, source_b, event_id):
    """Identity is (source, id): equal pairs collide, different sources never do."""
    assert nats_msg_id(source_a, event_id) == nats_msg_id(source_a, event_id)
    if source_a != source_b:
        assert nats_msg_id(source_a, event_id) != nats_msg_id(source_b, event_id)


def test_consumers_ignore_unknown_optional_fields_added_within_a_major():
    spec = REGISTRY.get("safety.review.completed.v1")
    data = {"flag_id": "f", "content_id": "c", "decision": "approved", "reviewer": "r", "reviewed_at": "2026-01-01T00:00:00Z",
            "added_later": "optional"}
    assert spec.validate(data).decision == "approved"

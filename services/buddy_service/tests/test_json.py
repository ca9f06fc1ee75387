"""JSON API imports over real NATS + Postgres: one record or an array, row-level errors by index,
a client retry (the HTTP redelivery) with no double effect, and bad bodies that store nothing."""

from __future__ import annotations

import pytest

from services.buddy_service import domain
from services.buddy_service.tests.support import (
    CHECKIN_COMPLETED,
    EVENT_LOGGED,
    FEEDBACK_SUBMITTED,
    MATCH_CREATED,
    auth,
    count,
    counts,
    events,
    post_json,
)

pytestmark = pytest.mark.integration

MATCH = {"match_id": "JM-1", "participant_id": "BP-1", "buddy_id": "BB-1", "matched_at": "2024-02-01T10:00:00Z",
         "program": "Oslo Welcome"}
EVENT = {"event_id": "JE-1", "match_id": "JM-1", "category": "Sports", "occurred_at": "2024-02-10T16:00:00Z",
         "duration_minutes": 90}
CHECKIN = {"checkin_id": "JC-1", "match_id": "JM-1", "completed_at": "2024-02-15T09:00:00Z", "mood": 4,
           "notes": "Found a flat close to the school. Still nervous about the first parents' meeting."}
FEEDBACK = {"feedback_id": "JF-1", "match_id": "JM-1", "from_role": "participant", "rating": 5,
            "text": "My buddy showed me how the bus tickets work. Small things, but they make a big difference.",
            "submitted_at": "2024-03-01T12:00:00Z"}


async def test_a_single_record_of_each_kind_goes_in_and_is_announced(client, runtime, bus, settings):
    for kind, record in (("matches", MATCH), ("events", EVENT), ("checkins", CHECKIN), ("feedback", FEEDBACK)):
        r = await post_json(client, settings, kind, record)
        assert r.status_code == 201, r.text
        report = r.json()
        assert (counts(report), report["format"]) == ((1, 1, 0, 0), "json")
        record_id = record[domain.SPECS[kind].id_field]
        assert report["records"] == [{"kind": kind, "line": None, "index": 0, "id": record_id, "outcome": "created"}]
        assert r.headers["location"] == f"/v1/imports/{report['import_id']}"

    [match] = await events(bus, runtime, MATCH_CREATED, at_least=1)
    assert match["subject"] == "JM-1" and match["data"]["participant"] == {"system": "buddy", "id": "BP-1"}
    [event] = await events(bus, runtime, EVENT_LOGGED, at_least=1)
    assert event["data"] == {"event_id": "JE-1", "match_id": "JM-1", "participant": {"system": "buddy", "id": "BP-1"},
                             "category": "sport", "occurred_at": "2024-02-10T16:00:00Z", "duration_minutes": 90}
    [checkin] = await events(bus, runtime, CHECKIN_COMPLETED, at_least=1)
    assert checkin["data"]["notes"] == CHECKIN["notes"] and checkin["data"]["mood"] == 4
    [feedback] = await events(bus, runtime, FEEDBACK_SUBMITTED, at_least=1)
    assert (feedback["subject"], feedback["data"]["rating"], feedback["data"]["text"]) == ("JF-1", 5, FEEDBACK["text"])
    assert {e["tenantid"] for e in (match, event, checkin, feedback)} == {"acme"}

    got = (await client.get("/v1/matches/JM-1", headers=auth(settings))).json()
    assert got["counts"] == {"events": 1, "checkins": 1, "feedback": 1} and got["origin"] == "json"


async def test_participants_as_buddy_system_refs(client, runtime, bus, settings):
    record = {**MATCH, "participant_id": None, "buddy_id": None,
              "participant": {"system": "buddy", "id": "BP-7"}, "buddy": {"system": "buddy", "id": "BB-7"}}
    assert (await post_json(client, settings, "matches", record)).status_code == 201
    [event] = await events(bus, runtime, MATCH_CREATED, at_least=1)
    assert (event["data"]["participant"], event["data"]["buddy"]) == ({"system": "buddy", "id": "BP-7"},
                                                                      {"system": "buddy", "id": "BB-7"})
    wrong = await post_json(client, settings, "matches", {**record, "match_id": "JM-2", "participant": {"system": "kintell", "id": "K-1"}})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "participant_id" and "'kintell'" in wrong.json()["errors"][0]["reason"]


async def test_an_array_keeps_good_records_and_reports_bad_ones_by_index(client, runtime, bus, settings):
    await post_json(client, settings, "matches", MATCH)
    batch = [
        CHECKIN,
        {**CHECKIN, "checkin_id": "JC-2", "match_id": "JM-404"},
        {**CHECKIN, "checkin_id": "JC-3", "mood": 9},
        "not an object",
        {"match_id": "JM-1", "completed_at": "2024-02-20T09:00:00Z"},  # no id: a derived one
        CHECKIN,  # repeated in the same array
    ]
    r = await post_json(client, settings, "checkins", batch)
    assert r.status_code == 201, r.text
    report = r.json()
    assert counts(report) == (6, 2, 3, 1)
    assert [(e["index"], e["field"]) for e in report["errors"]] == [(1, "match_id"), (2, "mood"), (3, None)]
    assert all(e["line"] is None for e in report["errors"])
    assert "unknown match 'JM-404'" in report["errors"][0]["reason"]
    derived = report["records"][4]["id"]
    assert derived.startswith("CI-") and report["records"][5]["outcome"] == "duplicate"

    stream = await events(bus, runtime, CHECKIN_COMPLETED, at_least=2)
    assert sorted(e["subject"] for e in stream) == sorted(["JC-1", derived])
    # Re-sending the record without an id finds the same derived id: a duplicate.
    again = (await post_json(client, settings, "checkins", batch[4])).json()
    assert again["records"][0] == {"kind": "checkins", "line": None, "index": 0, "id": derived, "outcome": "duplicate"}


async def test_a_client_retry_of_the_same_post_has_one_effect(client, runtime, bus, settings):
    """The HTTP side of redelivery: a client that did not see the answer sends the same request again."""
    first = await post_json(client, settings, "matches", [MATCH])
    second = await post_json(client, settings, "matches", [MATCH])
    assert counts(first.json()) == (1, 1, 0, 0)
    assert second.status_code == 201 and counts(second.json()) == (1, 0, 0, 1)
    assert await count(runtime, "buddy_matches") == 1
    assert await count(runtime, "outbox") == 1
    assert len(await events(bus, runtime, MATCH_CREATED, at_least=1)) == 1


async def test_a_single_rejected_record_is_a_422_and_stores_nothing(client, runtime, bus, settings):
    unknown = await post_json(client, settings, "feedback", FEEDBACK)  # its match was never imported
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    problem = unknown.json()
    assert problem["detail"] == "unknown match 'JM-1': import the match first (or in the same request)"
    assert problem["errors"] == [{"kind": "feedback", "line": None, "index": 0, "field": "match_id", "reason": problem["detail"]}]

    invalid = await post_json(client, settings, "matches", {**MATCH, "matched_at": "soon", "buddy_id": ""})
    assert invalid.status_code == 422
    assert {e["field"] for e in invalid.json()["errors"]} == {"matched_at", "buddy_id"}

    await post_json(client, settings, "matches", MATCH)
    conflict = await post_json(client, settings, "matches", {**MATCH, "program": "Another"})
    assert conflict.status_code == 422 and "different program" in conflict.json()["detail"]

    assert await count(runtime, "buddy_feedback") == 0
    assert await count(runtime, "imports") == 1  # only the successful match import has a report
    assert await count(runtime, "outbox") == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status", "needle"),
    [
        (b"{not json", "application/json", 422, "not valid JSON"),
        (b'"JM-1"', "application/json", 422, "JSON object"),
        (b"42", "application/json", 422, "JSON object"),
        (b'{"match_id": "JM-1"}', "text/plain", 415, "application/json"),
        (b'{"match_id": "JM-1"}', "", 415, "no content type"),
    ],
)
async def test_a_bad_json_body_stores_nothing(client, runtime, settings, body, content_type, status, needle):
    headers = {**auth(settings), **({"Content-Type": content_type} if content_type else {})}
    r = await client.post("/v1/matches", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert needle in r.json()["detail"]
    assert await count(runtime, "buddy_matches") == 0 and await count(runtime, "imports") == 0


async def test_json_writes_need_the_writer_role(client, runtime, settings):
    r = await client.post("/v1/matches", json=MATCH, headers=auth(settings, roles=("viewer",)))
    assert r.status_code == 403
    assert await count(runtime, "buddy_matches") == 0

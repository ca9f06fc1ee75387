"""CSV imports over real NATS + Postgres: rows stored, events read off the stream, row-level
reports, idempotent re-import, references to matches, the multi-kind upload, and file-level
rejections that store nothing."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.buddy_service.service import service
from services.buddy_service.tests.support import (
    CHECKIN_COMPLETED,
    EVENT_LOGGED,
    FEEDBACK_SUBMITTED,
    MATCH_CREATED,
    auth,
    count,
    counts,
    events,
    import_csv,
    import_samples,
    sample,
)
from summit_common.runtime import ServiceRuntime

pytestmark = pytest.mark.integration

TABLES = ("buddy_matches", "buddy_events", "buddy_checkins", "buddy_feedback")


async def stored_counts(runtime, tenant: str | None = None) -> tuple[int, ...]:
    return tuple([await count(runtime, t, tenant) for t in TABLES])


async def test_csv_imports_store_every_kind_and_emit_its_events(client, runtime, bus, settings):
    reports = await import_samples(client, settings)
    assert [counts(r) for r in reports] == [(5, 5, 0, 0), (7, 7, 0, 0), (6, 6, 0, 0), (6, 6, 0, 0)]
    assert all(r["errors"] == [] for r in reports)
    assert await stored_counts(runtime, "acme") == (5, 7, 6, 6)

    matches = await events(bus, runtime, MATCH_CREATED, at_least=5)
    assert sorted(e["subject"] for e in matches) == ["BM-1001", "BM-1002", "BM-1003", "BM-1004", "BM-1005"]
    first = next(e for e in matches if e["subject"] == "BM-1002")
    assert (first["source"], first["tenantid"], first["type"]) == ("buddy-service", "acme", MATCH_CREATED)
    assert first["data"] == {
        "match_id": "BM-1002", "participant": {"system": "buddy", "id": "BP-202"},
        "buddy": {"system": "buddy", "id": "BB-302"}, "matched_at": "2024-02-03T08:30:00Z", "program": "Oslo Welcome",
    }

    logged = await events(bus, runtime, EVENT_LOGGED, at_least=7)
    by_id = {e["subject"]: e["data"] for e in logged}
    assert len(by_id) == 7
    assert by_id["BE-5002"] == {
        "event_id": "BE-5002", "match_id": "BM-1001", "participant": {"system": "buddy", "id": "BP-201"},
        "category": "language_cafe", "occurred_at": "2024-02-17T17:30:00Z", "duration_minutes": 90,
    }
    assert by_id["BE-5004"]["occurred_at"] == "2024-02-10T10:00:00Z" and by_id["BE-5004"]["duration_minutes"] == 180
    # The row without an event_id got a derived one, reported per row.
    derived = next(r["id"] for r in reports[1]["records"] if r["line"] == 8)
    assert derived.startswith("EV-") and by_id[derived]["category"] == "language_cafe"

    checkins = await events(bus, runtime, CHECKIN_COMPLETED, at_least=6)
    by_id = {e["subject"]: e["data"] for e in checkins}
    assert by_id["BC-7005"]["mood"] == 4 and by_id["BC-7005"]["notes"] is None
    assert by_id["BC-7003"]["notes"].startswith("Found a part-time job at a bakery!")
    assert by_id["BC-7003"]["participant"] == {"system": "buddy", "id": "BP-203"}

    feedback = await events(bus, runtime, FEEDBACK_SUBMITTED, at_least=6)
    by_id = {e["subject"]: e["data"] for e in feedback}
    assert (by_id["BF-9004"]["from_role"], by_id["BF-9006"]["from_role"]) == ("participant", "buddy")  # mentee, volunteer
    assert by_id["BF-9006"]["text"] is None and by_id["BF-9006"]["rating"] == 4
    # The text a safety policy should flag travels unchanged, for the safety service to screen.
    assert "hurt myself" in by_id["BF-9005"]["text"] and "amal.h@example.com" in by_id["BF-9005"]["text"]
    assert all(e["data"]["participant"]["system"] == "buddy" and e["tenantid"] == "acme" for e in feedback)


async def test_importing_everything_twice_is_a_no_op(client, runtime, bus, settings):
    await import_samples(client, settings)
    outbox = await count(runtime, "outbox")
    assert outbox == 24

    again = await import_samples(client, settings)
    assert [counts(r) for r in again] == [(5, 0, 0, 5), (7, 0, 0, 7), (6, 0, 0, 6), (6, 0, 0, 6)]
    assert all(r["errors"] == [] for r in again)
    assert {rec["outcome"] for r in again for rec in r["records"]} == {"duplicate"}
    assert await count(runtime, "outbox") == outbox  # nothing new emitted
    assert await stored_counts(runtime) == (5, 7, 6, 6)
    assert await count(runtime, "imports") == 8  # each import keeps its own report
    assert len(await events(bus, runtime, EVENT_LOGGED, at_least=7)) == 7
    assert len(await events(bus, runtime, FEEDBACK_SUBMITTED, at_least=6)) == 6


async def test_feedback_rows_for_an_unknown_match_and_other_bad_rows_are_reported(client, runtime, bus, settings):
    await import_csv(client, settings, "matches", sample("matches.csv"))
    r = await import_csv(client, settings, "feedback", sample("malformed_feedback.csv"))
    assert r.status_code == 201, r.text
    report = r.json()
    assert counts(report) == (8, 1, 7, 0)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (3, "match_id"), (4, "rating"), (5, "from_role"), (6, "rating"), (7, "submitted_at"), (8, "submitted_at"), (9, None)]
    reasons = {e["line"]: e["reason"] for e in report["errors"]}
    assert reasons[3] == "unknown match 'BM-9999': import the match first (or in the same request)"
    assert "before match 'BM-1001' was made" in reasons[8] and "in the future" in reasons[7]
    assert all(e["kind"] == "feedback" and e["index"] is None for e in report["errors"])

    [event] = await events(bus, runtime, FEEDBACK_SUBMITTED, at_least=1)
    assert event["subject"] == "BF-9101"
    assert await count(runtime, "buddy_feedback") == 1

    stored = await client.get(f"/v1/imports/{report['import_id']}", headers=auth(settings))
    assert stored.status_code == 200
    assert stored.json()["errors"] == report["errors"] and stored.json()["records"] == report["records"]


async def test_a_match_of_another_tenant_is_an_unknown_match(client, runtime, settings):
    await import_csv(client, settings, "matches", sample("matches.csv"), tenant="acme")
    r = await import_csv(client, settings, "checkins", sample("checkins.csv"), tenant="beta")
    report = r.json()
    assert counts(report) == (6, 0, 6, 0)
    assert {e["reason"].split(":")[0] for e in report["errors"]} == {
        f"unknown match 'BM-100{n}'" for n in range(1, 6)}
    assert await count(runtime, "buddy_checkins") == 0


async def test_a_changed_row_under_an_imported_id_is_rejected_and_changes_nothing(client, runtime, bus, settings):
    await import_csv(client, settings, "matches", sample("matches.csv"))
    changed = sample("matches.csv").replace(b"BM-1002,BP-202,BB-302", b"BM-1002,BP-202,BB-399")
    report = (await import_csv(client, settings, "matches", changed)).json()
    assert counts(report) == (5, 0, 1, 4)
    assert report["errors"] == [{
        "kind": "matches", "line": 3, "index": None, "field": "match_id",
        "reason": "match 'BM-1002' is already imported with a different buddy_id; an imported record is not changed by a re-import",
    }]
    got = (await client.get("/v1/matches/BM-1002", headers=auth(settings))).json()
    assert got["buddy"] == {"system": "buddy", "id": "BB-302"}
    assert len(await events(bus, runtime, MATCH_CREATED, at_least=5)) == 5


async def test_one_upload_with_every_kind_applies_matches_first(client, runtime, bus, settings):
    # Parts in reverse order: the service still applies matches first, so every reference resolves.
    files = [(kind, (f"{kind}.csv", sample(f"{kind}.csv"), "text/csv")) for kind in ("feedback", "checkins", "events", "matches")]
    r = await client.post("/v1/import", files=files, headers=auth(settings))
    assert r.status_code == 201, r.text
    report = r.json()
    assert counts(report) == (24, 24, 0, 0)
    assert [(s["kind"], s["filename"], s["accepted"]) for s in report["sections"]] == [
        ("matches", "matches.csv", 5), ("events", "events.csv", 7), ("checkins", "checkins.csv", 6),
        ("feedback", "feedback.csv", 6)]
    assert r.headers["location"] == f"/v1/imports/{report['import_id']}"
    assert await stored_counts(runtime) == (5, 7, 6, 6)
    # Matches were emitted before the records that refer to them.
    stream = await events(bus, runtime, "buddy.>", at_least=24)
    types = [e["type"] for e in stream]
    assert types.index(EVENT_LOGGED) > max(i for i, t in enumerate(types) if t == MATCH_CREATED)


async def test_records_of_a_match_rejected_in_the_same_upload_say_so(client, runtime, settings):
    matches = b"match_id,participant_id,buddy_id,matched_at\nM-1,P-1,P-1,2024-02-01\nM-2,P-2,B-2,2024-02-01\n"
    checkins = b"match_id,completed_at\nM-1,2024-02-10\nM-2,2024-02-10\n"
    r = await client.post("/v1/import", headers=auth(settings),
                          files={"matches": ("m.csv", matches, "text/csv"), "checkins": ("c.csv", checkins, "text/csv")})
    report = r.json()
    assert counts(report) == (4, 2, 2, 0)
    assert [(e["kind"], e["line"], e["reason"]) for e in report["errors"]] == [
        ("matches", 2, "the buddy and the participant are the same person"),
        ("checkins", 2, "unknown match 'M-1': import the match first (or in the same request)"),
    ]


async def test_multipart_upload_of_one_kind_and_the_time_zone_parameter(client, runtime, settings):
    body = b"match_id,participant_id,buddy_id,matched_at\nM-1,P-1,B-1,01.07.2024 12:00\n"
    r = await client.post("/v1/import/matches", params={"timezone": "Europe/Oslo"}, headers=auth(settings),
                          files={"file": ("summer.csv", body, "text/csv")})
    assert r.status_code == 201, r.text
    assert (r.json()["sections"][0]["filename"], r.json()["timezone"]) == ("summer.csv", "Europe/Oslo")
    got = (await client.get("/v1/matches/M-1", headers=auth(settings))).json()
    assert got["matched_at"] == "2024-07-01T10:00:00+00:00"  # Oslo summer time is UTC+2


@pytest.mark.parametrize(
    ("path", "body", "content_type", "params", "status", "needle"),
    [
        ("/v1/import/feedback", b"feedback_id,match_id,text\nF,M,hi\n", "text/csv", {}, 422, "from_role"),
        ("/v1/import/matches", b"", "text/csv", {}, 422, "empty"),
        ("/v1/import/matches", "match_id\n\xe6\n".encode("latin-1"), "text/csv", {}, 422, "UTF-8"),
        ("/v1/import/matches", sample("matches.csv") + b'M-9,"P-9,B-9\n', "text/csv", {}, 422, "malformed near line"),
        ("/v1/import/matches", sample("matches.csv"), "application/json", {}, 415, "text/csv"),
        ("/v1/import/matches", sample("matches.csv"), "text/csv", {"timezone": "Mars/Olympus"}, 422, "Mars/Olympus"),
        ("/v1/import/sessions", sample("matches.csv"), "text/csv", {}, 422, "kind"),
        ("/v1/import", sample("matches.csv"), "text/csv", {}, 415, "multipart"),
    ],
    ids=["missing-column", "empty", "not-utf8", "broken-quoting", "wrong-media-type", "unknown-timezone", "unknown-kind",
         "bundle-not-multipart"],
)
async def test_a_bad_file_is_a_problem_and_stores_nothing(client, runtime, settings, path, body, content_type, params,
                                                          status, needle):
    r = await client.post(path, content=body, params=params, headers={**auth(settings), "Content-Type": content_type})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert needle in r.json()["detail"]
    assert await stored_counts(runtime) == (0, 0, 0, 0)
    assert await count(runtime, "imports") == 0
    assert await count(runtime, "outbox") == 0


async def test_a_header_only_file_is_an_empty_import(client, runtime, settings):
    r = await import_csv(client, settings, "checkins", b"match_id,completed_at\n")
    assert r.status_code == 201
    assert counts(r.json()) == (0, 0, 0, 0) and r.json()["records"] == []
    assert await count(runtime, "imports") == 1 and await count(runtime, "outbox") == 0


async def test_missing_columns_are_listed(client, runtime, settings):
    r = await import_csv(client, settings, "events", b"event_id,category\nE-1,sport\n")
    assert r.status_code == 422
    assert r.json()["missing_columns"] == ["match_id", "occurred_at"]
    assert "'event_date'" in r.json()["detail"]


@pytest.mark.parametrize(
    ("files", "needle"),
    [({"sessions": ("s.csv", b"a\n", "text/csv")}, "unknown part(s) 'sessions'"),
     ({"file": ("m.csv", b"a\n", "text/csv")}, "unknown part(s) 'file'"),
     ({"matches": ("m.csv", sample("matches.csv"), "text/csv"), "events": ("e.csv", b"event_id\n", "text/csv")}, "events CSV is missing")],
)
async def test_a_bad_multi_kind_upload_stores_nothing(client, runtime, settings, files, needle):
    r = await client.post("/v1/import", files=files, headers=auth(settings))
    assert r.status_code == 422
    assert needle in r.json()["detail"]
    assert await stored_counts(runtime) == (0, 0, 0, 0) and await count(runtime, "imports") == 0


async def test_an_upload_without_parts_or_with_an_empty_one_is_rejected(client, runtime, settings):
    r = await client.post("/v1/import", content=b"--b--\r\n",
                          headers={**auth(settings), "Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code == 422 and "at least one part" in r.json()["detail"]
    # An empty text part is an empty CSV: a file-level problem like any other.
    r = await client.post("/v1/import", files={"x": ("", b"")}, data={"matches": ""}, headers=auth(settings))
    assert r.status_code == 422 and "unknown part(s) 'x'" in r.json()["detail"]
    r = await client.post("/v1/import", files={"matches": ("m.csv", b"", "text/csv")}, headers=auth(settings))
    assert r.status_code == 422 and "matches CSV is empty" in r.json()["detail"]
    assert await count(runtime, "imports") == 0


async def test_writes_need_the_company_user_or_admin_role(client, runtime, settings):
    viewer = {**auth(settings, roles=("viewer",)), "Content-Type": "text/csv"}
    r = await client.post("/v1/import/matches", content=sample("matches.csv"), headers=viewer)
    assert r.status_code == 403
    assert "company_user, admin" in r.json()["detail"]
    assert await count(runtime, "buddy_matches") == 0
    admin = {**auth(settings, roles=("admin",)), "Content-Type": "text/csv"}
    assert (await client.post("/v1/import/matches", content=sample("matches.csv"), headers=admin)).status_code == 201
    # Reading needs no write role.
    assert (await client.get("/v1/matches", headers=auth(settings, roles=("viewer",)))).status_code == 200


async def test_a_larger_file_goes_in_with_batched_writes(client, runtime, bus, settings):
    rows = ["match_id,participant_id,buddy_id,matched_at"] + [f"L-{i},P-{i},B-{i % 40},2024-01-{i % 28 + 1:02d}" for i in range(400)]
    r = await import_csv(client, settings, "matches", "\n".join(rows).encode())
    assert counts(r.json()) == (400, 400, 0, 0)
    assert await count(runtime, "buddy_matches") == 400 and await count(runtime, "outbox") == 400
    assert len(await events(bus, runtime, MATCH_CREATED, at_least=400)) == 400


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_oversized_body_is_413_and_stores_nothing(settings, streamed):
    small = settings.model_copy(update={"max_body_bytes": 1000})
    body = sample("feedback.csv") * 2
    assert len(body) > 1000

    async def chunks():
        for start in range(0, len(body), 256):
            yield body[start:start + 256]

    runtime = ServiceRuntime(service, small)
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.app), base_url="http://t") as client:
            r = await client.post("/v1/import/feedback", content=chunks() if streamed else body,
                                  headers={**auth(small), "Content-Type": "text/csv"})
            assert r.status_code == 413
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["max_bytes"] == 1000
            json_body = b"[" + b",".join([b'{"match_id": "M-1"}'] * 100) + b"]"
            r = await client.post("/v1/matches", content=json_body, headers={**auth(small), "Content-Type": "application/json"})
            assert r.status_code == 413
            assert await count(runtime, "imports") == 0
            assert await count(runtime, "buddy_feedback") == 0 and await count(runtime, "buddy_matches") == 0
    finally:
        await runtime.stop()


async def test_two_replicas_importing_the_same_file_at_once_store_and_emit_it_once(client, runtime, bus, settings):
    replica = ServiceRuntime(service, settings)  # same schema and streams: a second pod
    await replica.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=replica.app), base_url="http://t") as other:
            body = sample("matches.csv")
            first, second = await asyncio.gather(import_csv(client, settings, "matches", body),
                                                 import_csv(other, settings, "matches", body))
    finally:
        await replica.stop()
    reports = sorted([first.json(), second.json()], key=lambda r: r["accepted"])
    assert [counts(r) for r in reports] == [(5, 0, 0, 5), (5, 5, 0, 0)]
    assert await count(runtime, "buddy_matches") == 5 and await count(runtime, "outbox") == 5
    assert len(await events(bus, runtime, MATCH_CREATED, at_least=5)) == 5

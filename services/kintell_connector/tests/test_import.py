"""CSV import over real NATS + Postgres: rows stored, events emitted, row-level report,
idempotent re-import, status transitions, and file-level rejections that store nothing."""

from __future__ import annotations

import httpx
import pytest

from services.kintell_connector.service import service
from services.kintell_connector.tests.support import auth, count, events, import_csv, sample
from summit_common.runtime import ServiceRuntime

pytestmark = pytest.mark.integration

COMPLETED = "kintell.session.completed.v1"
SCHEDULED = "kintell.session.scheduled.v1"
RATED = "kintell.rating.created.v1"


async def test_language_import_stores_normalised_rows_and_emits_events(client, runtime, bus, settings):
    r = await import_csv(client, settings, sample("language_sessions.csv"))
    assert r.status_code == 201, r.text
    report = r.json()
    assert {k: report[k] for k in ("rows_total", "accepted", "rejected", "duplicates", "errors")} == {
        "rows_total": 6, "accepted": 6, "rejected": 0, "duplicates": 0, "errors": []
    }
    assert r.headers["location"] == f"/v1/imports/{report['import_id']}"
    assert await count(runtime, "kintell_sessions", "acme") == 6
    assert await count(runtime, "kintell_ratings", "acme") == 3

    completed = await events(bus, runtime, COMPLETED, at_least=4)
    assert sorted(e["subject"] for e in completed) == ["KS-1001", "KS-1002", "KS-1003", "KS-1005"]
    first = next(e for e in completed if e["subject"] == "KS-1001")
    assert first["source"] == "kintell-connector" and first["tenantid"] == "acme"
    assert first["data"] == {
        "session_id": "KS-1001", "session_type": "language",
        "participant": {"system": "kintell", "id": "KP-201"}, "volunteer": {"system": "kintell", "id": "KV-301"},
        "started_at": "2024-03-04T14:00:00Z", "duration_minutes": 45, "language": "uk", "level": "B1",
        "topics": ["travel", "work"], "notes": "Talked about the job interview",
    }
    scheduled = await events(bus, runtime, SCHEDULED, at_least=1)
    assert [(e["subject"], e["data"]["language"]) for e in scheduled] == [("KS-1004", "uk")]
    ratings = await events(bus, runtime, RATED, at_least=3)
    assert sorted((e["data"]["rating_id"], e["data"]["score"]) for e in ratings) == [
        ("KS-1001:participant", 5), ("KS-1003:participant", 4), ("KS-1005:participant", 3)
    ]
    assert all(e["data"]["rater_role"] == "participant" for e in ratings)

    # Stored normalised: offsets to UTC, duration from start/end, language name -> code.
    got = (await client.get("/v1/sessions/KS-1002", headers=auth(settings))).json()
    assert (got["started_at"], got["duration_minutes"], got["language"], got["status"]) == (
        "2024-03-05T08:30:00+00:00", 45, "ar", "completed")
    cancelled = (await client.get("/v1/sessions/KS-1006", headers=auth(settings))).json()
    assert cancelled["status"] == "cancelled"  # stored, but no event: the contract has no cancelled event


async def test_multipart_upload_of_mentorship_sessions(client, runtime, bus, settings):
    r = await client.post(
        "/v1/import/kintell-sessions", headers=auth(settings),
        files={"file": ("mentorship_sessions.csv", sample("mentorship_sessions.csv"), "text/csv")},
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["filename"], report["accepted"], report["rejected"]) == ("mentorship_sessions.csv", 4, 0)
    completed = await events(bus, runtime, COMPLETED, at_least=3)
    by_id = {e["subject"]: e["data"] for e in completed}
    assert set(by_id) == {"KM-2001", "KM-2002", "KM-2004"}
    assert by_id["KM-2001"]["duration_minutes"] == 60 and by_id["KM-2001"]["session_type"] == "mentorship"
    assert by_id["KM-2004"]["started_at"] == "2024-03-12T08:15:00Z"  # DD/MM/YYYY HH:MM, UTC by default
    assert [e["subject"] for e in await events(bus, runtime, SCHEDULED, at_least=1)] == ["KM-2003"]


async def test_multipart_without_a_file_field_is_rejected(client, runtime, settings):
    r = await client.post("/v1/import/kintell-sessions", headers=auth(settings), data={"note": "no file"},
                          files={"other": ("x.csv", b"a,b\n", "text/csv")})
    assert r.status_code == 422
    assert "'file'" in r.json()["detail"]
    assert await count(runtime, "imports") == 0


async def test_second_mapping_profile(client, runtime, settings):
    r = await import_csv(client, settings, sample("legacy_export.csv"), mapping="kintell_legacy")
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["mapping"], report["accepted"], report["rejected"]) == ("kintell_legacy", 4, 0)
    assert report["ignored_columns"] == ["Internal Flag"]
    got = (await client.get("/v1/sessions/L-9001", headers=auth(settings))).json()
    # 15:00 Oslo winter time is 14:00 UTC; Norwegian names and words normalised.
    assert (got["started_at"], got["session_type"], got["language"], got["level"], got["status"], got["topics"]) == (
        "2024-03-04T14:00:00+00:00", "language", "uk", "B2", "completed", ["housing", "work"])
    assert got["ratings"][0]["score"] == 4 and got["ratings"][0]["comment"] == "Takk!"
    summer = (await client.get("/v1/sessions/L-9003", headers=auth(settings))).json()
    assert (summer["started_at"], summer["status"]) == ("2024-04-10T15:30:00+00:00", "scheduled")


async def test_legacy_file_with_default_mapping_names_the_missing_columns(client, runtime, settings):
    r = await import_csv(client, settings, sample("legacy_export.csv"))
    assert r.status_code == 422
    assert "session_id" in r.json()["missing_columns"]
    assert await count(runtime, "kintell_sessions") == 0


async def test_malformed_rows_are_reported_and_good_rows_still_go_in(client, runtime, bus, settings):
    r = await import_csv(client, settings, sample("malformed_sessions.csv"))
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["rows_total"], report["accepted"], report["rejected"], report["duplicates"]) == (10, 2, 8, 0)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (3, "language"), (4, "level"), (5, "participant_id"), (6, "start"),
        (7, "participant_rating"), (8, "end"), (9, None), (10, "session_type"),
    ]
    reasons = {e["line"]: e["reason"] for e in report["errors"]}
    assert "Klingon" in reasons[3] and "CEFR" in reasons[4] and "end is before start" == reasons[8]
    assert "14 columns" in reasons[9]

    async with runtime.pool.acquire() as conn:
        stored = [r["session_id"] for r in await conn.fetch("SELECT session_id FROM kintell_sessions ORDER BY 1")]
    assert stored == ["KX-3001", "KX-3010"]
    completed = await events(bus, runtime, COMPLETED, at_least=2)
    assert sorted(e["subject"] for e in completed) == ["KX-3001", "KX-3010"]

    again = await client.get(f"/v1/imports/{report['import_id']}", headers=auth(settings))
    assert again.status_code == 200
    assert again.json() == report


async def test_importing_the_same_file_twice_is_a_no_op(client, runtime, bus, settings):
    body = sample("language_sessions.csv")
    first = (await import_csv(client, settings, body)).json()
    assert first["accepted"] == 6
    outbox_after_first = await count(runtime, "outbox")

    second = await import_csv(client, settings, body)
    assert second.status_code == 201
    report = second.json()
    assert (report["rows_total"], report["accepted"], report["rejected"], report["duplicates"]) == (6, 0, 0, 6)
    assert report["import_id"] != first["import_id"]
    assert await count(runtime, "outbox") == outbox_after_first  # nothing new emitted
    assert await count(runtime, "kintell_sessions") == 6
    assert await count(runtime, "kintell_ratings") == 3
    assert len(await events(bus, runtime, COMPLETED, at_least=4)) == 4


async def test_status_moves_forward_and_old_news_is_a_duplicate(client, runtime, bus, settings):
    header = "session_id,session_type,participant_id,volunteer_id,start_time,duration_minutes,language,status,participant_rating\n"
    booked = header + "S-1,language,P-1,V-1,2024-05-01T10:00:00Z,,uk,scheduled,\n"
    held = header + "S-1,language,P-1,V-1,2024-05-01T10:05:00Z,40,uk,completed,5\n"
    cancelled = header + "S-1,language,P-1,V-1,2024-05-01T10:05:00Z,,uk,cancelled,\n"

    assert (await import_csv(client, settings, booked.encode())).json()["accepted"] == 1
    report = (await import_csv(client, settings, held.encode())).json()
    assert (report["accepted"], report["duplicates"]) == (1, 0)
    stale = (await import_csv(client, settings, booked.encode())).json()
    assert (stale["accepted"], stale["duplicates"], stale["rejected"]) == (0, 1, 0)
    conflict = (await import_csv(client, settings, cancelled.encode())).json()
    assert conflict["rejected"] == 1
    assert conflict["errors"] == [{"line": 2, "field": "status", "reason": "session S-1 is already completed; it cannot become cancelled"}]

    got = (await client.get("/v1/sessions/S-1", headers=auth(settings))).json()
    assert (got["status"], got["started_at"], got["duration_minutes"]) == ("completed", "2024-05-01T10:05:00+00:00", 40)
    assert [e["subject"] for e in await events(bus, runtime, SCHEDULED, at_least=1)] == ["S-1"]
    assert len(await events(bus, runtime, COMPLETED, at_least=1)) == 1
    assert len(await events(bus, runtime, RATED, at_least=1)) == 1


async def test_one_file_that_books_then_completes_a_session_emits_both_in_order(client, runtime, bus, settings):
    body = (
        b"session_id,session_type,participant_id,volunteer_id,start_time,duration_minutes,language,status\n"
        b"S-9,mentoring,P-9,V-9,2024-05-01T10:00:00Z,,,scheduled\n"
        b"S-9,mentoring,P-9,V-9,2024-05-01T10:00:00Z,30,,completed\n"
        b"S-9,mentoring,P-9,V-9,2024-05-01T10:00:00Z,30,,completed\n"
    )
    report = (await import_csv(client, settings, body)).json()
    assert (report["accepted"], report["duplicates"]) == (2, 1)
    stream = await events(bus, runtime, "kintell.session.>", at_least=2)
    assert [e["type"] for e in stream] == [SCHEDULED, COMPLETED]


async def test_a_rating_added_in_a_later_export_is_new_even_though_the_session_is_not(client, runtime, bus, settings):
    header = "session_id,session_type,participant_id,volunteer_id,start_time,duration_minutes,language,status,participant_rating\n"
    await import_csv(client, settings, (header + "S-2,lang,P-2,V-2,2024-05-02T10:00:00Z,30,en,completed,\n").encode())
    report = (await import_csv(client, settings, (header + "S-2,lang,P-2,V-2,2024-05-02T10:00:00Z,30,en,completed,4\n").encode())).json()
    assert (report["accepted"], report["duplicates"]) == (1, 0)
    assert len(await events(bus, runtime, COMPLETED, at_least=1)) == 1
    [rating] = await events(bus, runtime, RATED, at_least=1)
    assert rating["data"]["score"] == 4 and rating["data"]["created_at"] == "2024-05-02T10:30:00Z"


async def test_a_large_file_goes_in_with_batched_writes(client, runtime, bus, settings):
    rows = ["session_id,session_type,participant_id,volunteer_id,start_time,duration_minutes,language,level,status,participant_rating"]
    rows += [f"B-{i},language,P-{i % 50},V-{i % 7},2024-06-01T{i % 24:02d}:00:00Z,45,uk,B1,completed,{i % 5 + 1}" for i in range(1500)]
    r = await import_csv(client, settings, "\n".join(rows).encode())
    assert r.status_code == 201
    assert r.json()["accepted"] == 1500
    assert await count(runtime, "kintell_sessions") == 1500
    assert await count(runtime, "kintell_ratings") == 1500
    assert await count(runtime, "outbox") == 3000
    assert len(await events(bus, runtime, COMPLETED, at_least=1500)) == 1500


@pytest.mark.parametrize(
    ("body", "content_type", "params", "status", "needle"),
    [
        (b"session_id,session_type,participant_id,volunteer_id,start_time,duration_minutes\nS,language,P,V,2024-01-01T00:00:00Z,3\n",
         "text/csv", {}, 422, "status"),
        (b"", "text/csv", {}, 422, "empty"),
        ("session_id,status\n\xe6\n".encode("latin-1"), "text/csv", {}, 422, "UTF-8"),
        (sample("language_sessions.csv") + b'KS-1,"unterminated,language\n', "text/csv", {}, 422, "malformed near line 8"),
        (sample("language_sessions.csv"), "text/csv", {"mapping": "nope"}, 422, "unknown mapping profile 'nope'"),
        (sample("language_sessions.csv"), "application/json", {}, 415, "text/csv"),
    ],
    ids=["missing-column", "empty", "not-utf8", "broken-quoting", "unknown-mapping", "wrong-media-type"],
)
async def test_a_bad_file_is_a_problem_and_stores_nothing(client, runtime, settings, body, content_type, params, status, needle):
    r = await client.post("/v1/import/kintell-sessions", content=body, params=params,
                          headers={**auth(settings), "Content-Type": content_type})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert needle in r.json()["detail"]
    assert await count(runtime, "kintell_sessions") == 0
    assert await count(runtime, "imports") == 0
    assert await count(runtime, "outbox") == 0


async def test_missing_required_column_names_it(client, runtime, settings):
    lines = sample("language_sessions.csv").decode().splitlines()
    without_status = "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != 9) for line in lines[:2])
    r = await import_csv(client, settings, without_status.encode())
    assert r.status_code == 422
    problem = r.json()
    assert problem["missing_columns"] == ["status"]
    assert "status" in problem["detail"] and "'state'" in problem["detail"]


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_oversized_body_is_413_and_stores_nothing(settings, streamed):
    small = settings.model_copy(update={"max_body_bytes": 1000})
    body = sample("language_sessions.csv") * 3
    assert len(body) > 1000

    async def chunks():
        for start in range(0, len(body), 256):
            yield body[start:start + 256]

    runtime = ServiceRuntime(service, small)
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.app), base_url="http://t") as client:
            r = await client.post("/v1/import/kintell-sessions", content=chunks() if streamed else body,
                                  headers={**auth(small), "Content-Type": "text/csv"})
            assert r.status_code == 413
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["max_bytes"] == 1000
            assert await count(runtime, "kintell_sessions") == 0
            assert await count(runtime, "imports") == 0
    finally:
        await runtime.stop()


async def test_participants_cannot_import(client, settings):
    from summit_common.auth import mint_token

    token = mint_token(settings.jwt_secret, sub="p1", tenant="acme", roles=["participant"])
    response = await client.post("/v1/import/kintell-sessions", content=b"session_id\n", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"

"""Imports over real NATS + Postgres: rows stored, events read off the stream, the row-level
report, idempotent re-imports (also across formats and concurrent uploads), file-level
rejections and unknown providers that store nothing, roles, and all-or-nothing storage."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from services.upskilling_connector import store
from services.upskilling_connector.providers import PROVIDER_MODULES, build_registry
from services.upskilling_connector.tests.support import (
    COMPLETED,
    CREDENTIAL,
    PROGRESS,
    auth,
    count,
    events,
    import_sample,
    post_import,
    sample,
    summary,
)

pytestmark = pytest.mark.integration


async def test_ecornell_completions_are_stored_and_announced(client, runtime, bus, settings):
    r = await import_sample(client, settings, "completions", "ecornell", "ecornell_completions.csv")
    assert r.status_code == 201, r.text
    report = r.json()
    assert r.headers["location"] == f"/v1/imports/{report['import_id']}"
    # 3 completions + 2 in-progress/not-started rows as progress; Incomplete and Withdrawn skipped.
    assert summary(report) == (7, 5, 0, 2, 0)
    assert report["emitted"] == {COMPLETED: 3, PROGRESS: 2}
    assert [s["line"] for s in report["skipped_rows"]] == [6, 7]
    assert report["ignored_columns"] == ["First Name", "Last Name", "Certificate Program"]
    assert (report["kind"], report["provider"], report["format"], report["errors"]) == ("completions", "ecornell", "csv", [])
    assert await count(runtime, "completions", "acme") == 3
    assert await count(runtime, "progress", "acme") == 2

    completed = await events(bus, runtime, COMPLETED, at_least=3)
    by_course = {e["data"]["course_id"]: e for e in completed}
    assert set(by_course) == {"ILRHR520", "HAME509", "CEDA501"}
    first = by_course["ILRHR520"]
    assert (first["source"], first["tenantid"], first["subject"]) == ("upskilling-connector", "acme", "ecornell:EC-1001:ILRHR520")
    assert first["data"] == {
        "completion_id": "ecornell:EC-1001:ILRHR520", "participant": {"system": "ecornell", "id": "EC-1001"},
        "provider": "ecornell", "course_id": "ILRHR520", "course_name": "Leading High-Performing Teams",
        "category": "professional", "completed_at": "2024-03-19T04:00:00Z", "score": 96.0,
    }
    assert {c: e["data"]["category"] for c, e in by_course.items()} == {
        "ILRHR520": "professional", "HAME509": "language", "CEDA501": "digital"}
    progress = await events(bus, runtime, PROGRESS, at_least=2)
    assert sorted((e["data"]["course_id"], e["data"]["percent_complete"]) for e in progress) == [("CIS531", 45.0), ("CIS532", 0.0)]


async def test_itslearning_json_page_with_completions_progress_and_skips(client, runtime, bus, settings):
    r = await import_sample(client, settings, "completions", "itslearning", "itslearning_results.json")
    assert r.status_code == 201, r.text
    report = r.json()
    assert summary(report) == (5, 3, 0, 2, 0)
    assert [(s["index"], s["line"]) for s in report["skipped_rows"]] == [(2, None), (4, None)]
    completed = await events(bus, runtime, COMPLETED, at_least=2)
    data = {e["data"]["participant"]["id"]: e["data"] for e in completed}
    assert data["NO-ELEV-1042"]["course_id"] == "1082-9/445" and data["NO-ELEV-1042"]["category"] == "language"
    assert data["NO-ELEV-1042"]["score"] == 85.0 and data["NO-ELEV-1042"]["participant"]["system"] == "itslearning"
    assert data["NO-ELEV-1043"]["completed_at"] == "2024-03-18T10:00:00Z"  # /Date(1710756000000+0100)/
    [progress] = await events(bus, runtime, PROGRESS, at_least=1)
    assert progress["data"]["participant"] == {"system": "itslearning", "id": "4714"}


async def test_itslearning_report_csv_as_a_multipart_upload(client, runtime, bus, settings):
    r = await client.post(
        "/v1/import/course-completions", params={"provider": "itslearning"}, headers=auth(settings),
        files={"file": ("resultater.csv", sample("itslearning_results.csv"), "text/csv")},
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["filename"], report["format"]) == ("resultater.csv", "csv")
    assert summary(report) == (3, 2, 0, 1, 0)
    completed = await events(bus, runtime, COMPLETED, at_least=2)
    assert sorted((e["data"]["course_name"], e["data"]["completed_at"]) for e in completed) == [
        ("Excel for nybegynnere", "2024-02-29T23:00:00Z"),  # 01.03.2024 in Oslo
        ("Norsk B1 skriftlig: Skriftlig innlevering", "2024-03-18T08:00:00Z"),
    ]


async def test_credentials_from_both_providers(client, runtime, bus, settings):
    ecornell = (await import_sample(client, settings, "credentials", "ecornell", "ecornell_certificates.csv")).json()
    assert summary(ecornell) == (4, 2, 0, 1, 1)
    assert ecornell["errors"] == [{"line": 4, "index": None, "field": "Issue Date", "reason": "a value is required"}]
    badges = (await import_sample(client, settings, "credentials", "itslearning", "itslearning_badges.json")).json()
    assert summary(badges) == (2, 2, 0, 0, 0)
    issued = await events(bus, runtime, CREDENTIAL, at_least=4)
    assert sorted(e["data"]["credential_id"] for e in issued) == [
        "ecornell:CERT-2024-00417", "ecornell:CERT-2024-00502",
        "itslearning:311/4712", "itslearning:a7f3c1e2-0b9d-4c57-9e1a-2f6d8b4c0a11",
    ]
    cert = next(e["data"] for e in issued if e["data"]["credential_id"] == "ecornell:CERT-2024-00502")
    assert cert == {
        "credential_id": "ecornell:CERT-2024-00502", "participant": {"system": "ecornell", "id": "EC-1003"},
        "provider": "ecornell", "name": "Data Analytics", "issued_at": "2024-04-16T04:00:00Z",
        "expires_at": "2027-04-16T04:00:00Z", "url": "https://certificates.example.org/verify/CERT-2024-00502",
    }
    assert await count(runtime, "credentials", "acme") == 4


async def test_progress_only_announces_changes_and_never_rolls_back(client, runtime, bus, settings):
    first = (await import_sample(client, settings, "progress", "itslearning", "itslearning_progress.json")).json()
    assert summary(first) == (3, 3, 0, 0, 0)  # 35 % then 70 % of one course in one file: both announced, in order
    again = (await import_sample(client, settings, "progress", "itslearning", "itslearning_progress.json")).json()
    assert summary(again) == (3, 0, 3, 0, 0) and again["emitted"] == {}

    older = json.dumps([{"SyncId": "NO-ELEV-1044", "CourseId": "1082-9", "CourseTitle": "Norsk A2 muntlig",
                         "ProgressPercent": 50, "LastModified": "2024-03-15T09:00:00Z"}]).encode()
    stale = (await post_import(client, settings, "progress", "itslearning", older, export_format="json")).json()
    assert summary(stale) == (1, 0, 1, 0, 0)

    updates = await events(bus, runtime, PROGRESS, at_least=3)
    assert [e["data"]["percent_complete"] for e in updates if e["data"]["participant"]["id"] == "NO-ELEV-1044"] == [35.0, 70.0]
    stored = (await client.get("/v1/progress", params={"participant": "NO-ELEV-1044"}, headers=auth(settings))).json()
    assert [(p["percent_complete"], p["updated_at"]) for p in stored["items"]] == [(70.0, "2024-03-24T09:00:00+00:00")]


async def test_reimporting_the_same_export_is_a_no_op(client, runtime, bus, settings):
    first = (await import_sample(client, settings, "completions", "ecornell", "ecornell_completions.csv")).json()
    assert first["accepted"] == 5
    outbox_after_first = await count(runtime, "outbox")

    second = await import_sample(client, settings, "completions", "ecornell", "ecornell_completions.csv")
    assert second.status_code == 201
    report = second.json()
    assert summary(report) == (7, 0, 5, 2, 0) and report["emitted"] == {}
    assert report["import_id"] != first["import_id"]  # every import keeps its own report (the audit trail)
    assert await count(runtime, "outbox") == outbox_after_first
    assert await count(runtime, "completions") == 3 and await count(runtime, "imports") == 2
    assert len(await events(bus, runtime, COMPLETED, at_least=3)) == 3


async def test_the_same_result_exported_as_json_and_as_csv_is_stored_once(client, runtime, bus, settings):
    await import_sample(client, settings, "completions", "itslearning", "itslearning_results.json")
    same_as_csv = (
        "Person ID;Sync ID;Course ID;Course;Element ID;Element;Status;Score;Max score;Assessed\n"
        "4711;NO-ELEV-1042;1082-9;Norsk A2 muntlig;445;Sluttprøve;Bestått;42,5;50;18.03.2024 09:05\n"
    ).encode()
    report = (await post_import(client, settings, "completions", "itslearning", same_as_csv)).json()
    assert summary(report) == (1, 0, 1, 0, 0)
    assert len(await events(bus, runtime, COMPLETED, at_least=2)) == 2


async def test_concurrent_uploads_of_one_export_store_and_announce_it_once(client, runtime, bus, settings):
    responses = await asyncio.gather(*(
        import_sample(client, settings, "completions", "ecornell", "ecornell_completions.csv") for _ in range(3)))
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert sorted(r.json()["accepted"] for r in responses) == [0, 0, 5]
    assert len(await events(bus, runtime, COMPLETED, at_least=3)) == 3
    assert len(await events(bus, runtime, PROGRESS, at_least=2)) == 2


async def test_bad_rows_are_reported_and_good_rows_still_go_in(client, runtime, bus, settings):
    r = await import_sample(client, settings, "completions", "ecornell", "ecornell_malformed.csv")
    assert r.status_code == 201, r.text
    report = r.json()
    assert summary(report) == (10, 2, 0, 0, 8)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (3, "Completion Date"), (4, "Completion Date"), (5, "Learner ID"), (6, "Status"), (7, "Grade"), (8, "Grade"),
        (8, "CEUs"), (9, None), (10, "Course Code"), (10, "Course Name"),
    ]
    reasons = {(e["line"], e["field"]): e["reason"] for e in report["errors"]}
    assert "'13/04/2024' is not a date" in reasons[(3, "Completion Date")]
    assert reasons[(9, None)] == "the row has 8 values but the header has 7 columns"
    async with runtime.pool.acquire() as conn:
        stored = [r["completion_id"] for r in await conn.fetch("SELECT completion_id FROM completions ORDER BY 1")]
    assert stored == ["ecornell:EC-2001:ILRHR530", "ecornell:EC-2010:ILRHR539"]
    assert len(await events(bus, runtime, COMPLETED, at_least=2)) == 2

    again = await client.get(f"/v1/imports/{report['import_id']}", headers=auth(settings))
    assert again.status_code == 200
    assert again.json()["errors"] == report["errors"] and again.json()["imported_by"] == "importer-1"


async def test_json_row_errors_are_reported_by_index_with_the_page_notice(client, runtime, settings):
    report = (await import_sample(client, settings, "completions", "itslearning", "itslearning_malformed.json")).json()
    assert summary(report) == (8, 1, 0, 0, 7)
    assert [(e["index"], e["field"]) for e in report["errors"]] == [
        (1, "AssessmentStatus"), (2, "SyncId"), (3, "ReviewDate"), (4, "Score"), (5, "ReviewDate"), (6, None), (7, "SyncId")]
    assert report["notices"] == ["this is page 1 of an itslearning result with 250 records; import the other pages too"]


@pytest.mark.parametrize(
    ("provider", "body", "export_format", "status", "detail"),
    [
        ("ecornell", b"First Name,Last Name\nA,B\n", "csv", 422, "missing required columns"),
        ("ecornell", "Learner ID,Course Code,Course Name,Status\nEC-1,C1,Caf\xe9,Complete\n".encode("latin-1"), "csv", 422, "UTF-8"),
        ("ecornell", b'Learner ID,Course Code,Course Name,Status\nEC-1,C1,"broken,Complete\n', "csv", 422, "malformed"),
        ("ecornell", b"", "csv", 422, "empty"),
        ("ecornell", b"[]", "json", 415, "eCornell exports are CSV"),
        ("itslearning", b"{not json", "json", 422, "not valid JSON"),
        ("itslearning", b'{"Items": []}', "json", 422, "EntityArray"),
    ],
)
async def test_file_level_problems_store_nothing(client, runtime, bus, settings, provider, body, export_format, status, detail):
    r = await post_import(client, settings, "completions", provider, body, export_format=export_format)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert detail in r.json()["detail"]
    for table in ("imports", "completions", "progress", "outbox"):
        assert await count(runtime, table) == 0


async def test_missing_columns_are_named(client, settings):
    r = await post_import(client, settings, "credentials", "ecornell", b"Learner ID,Course Code\nEC-1,C1\n")
    assert r.status_code == 422
    assert r.json()["missing_columns"] == ["Certificate Program", "Certificate ID", "Issue Date"]


@pytest.mark.parametrize("params", [{"provider": "moodle"}, {"provider": ""}, {"provider": "ECORNELL"}, {}])
async def test_unknown_or_missing_provider_is_422_and_stores_nothing(client, runtime, settings, params):
    r = await client.post("/v1/import/course-completions", params=params, content=sample("ecornell_completions.csv"),
                          headers={**auth(settings), "Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    if params:
        assert r.json()["known_providers"] == ["ecornell", "itslearning"]
        assert "unknown provider" in r.json()["detail"]
    assert await count(runtime, "imports") == 0 and await count(runtime, "completions") == 0


async def test_unsupported_media_types_are_415(client, runtime, settings):
    r = await client.post("/v1/import/course-completions", params={"provider": "itslearning"}, content=b"<xml/>",
                          headers={**auth(settings), "Content-Type": "application/xml"})
    assert r.status_code == 415 and "application/xml" in r.json()["detail"]
    r = await client.post("/v1/import/course-completions", params={"provider": "itslearning"}, headers=auth(settings),
                          files={"file": ("export.xlsx", b"PK...", "application/octet-stream")})
    assert r.status_code == 415
    r = await client.post("/v1/import/course-completions", params={"provider": "itslearning"}, headers=auth(settings),
                          data={"note": "no file"}, files={"other": ("x.json", b"[]", "application/json")})
    assert r.status_code == 422 and "'file'" in r.json()["detail"]
    assert await count(runtime, "imports") == 0


@pytest.mark.parametrize(("roles", "status"), [(("participant",), 403), ((), 403), (("admin",), 201),
                                               (("company_user",), 201), (("platform-admin",), 201)])
async def test_writes_need_company_user_or_admin(client, runtime, settings, roles, status):
    r = await import_sample(client, settings, "completions", "ecornell", "ecornell_completions.csv", roles=roles)
    assert r.status_code == status, r.text
    if status == 403:
        assert "company_user, admin" in r.json()["detail"]
        assert await count(runtime, "completions") == 0 and await count(runtime, "imports") == 0


async def test_a_failure_while_storing_keeps_nothing(client, runtime, bus, settings, monkeypatch):
    """Rows, events and the report are one transaction: a failure after the rows were written rolls all back."""

    async def crash(*args, **kwargs):
        raise RuntimeError("simulated crash after the rows were written")

    monkeypatch.setattr(store, "insert_import", crash)
    # A client that gets the 500 response instead of the re-raised exception, as a real caller would.
    transport = httpx.ASGITransport(app=runtime.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as plain:
        r = await import_sample(plain, settings, "completions", "ecornell", "ecornell_completions.csv")
    assert r.status_code == 500
    assert "simulated" not in r.text  # internals do not leak
    for table in ("completions", "progress", "imports", "outbox"):
        assert await count(runtime, table) == 0
    monkeypatch.undo()
    retry = (await import_sample(client, settings, "completions", "ecornell", "ecornell_completions.csv")).json()
    assert retry["accepted"] == 5  # nothing half-stored, so the retry stores everything
    assert len(await events(bus, runtime, COMPLETED, at_least=3)) == 3


async def test_a_third_provider_works_end_to_end_once_registered(client, runtime, bus, settings):
    runtime.app.state.upskilling_registry = build_registry(
        (*PROVIDER_MODULES, "services.upskilling_connector.tests.thirdparty_provider"))
    listed = (await client.get("/v1/providers", headers=auth(settings))).json()["items"]
    assert [p["name"] for p in listed] == ["ecornell", "itslearning", "tinylms"]
    body = json.dumps([{"learner": "T-1", "course": "ESL-2", "title": "English B1", "done_on": "2024-05-01T10:00:00Z"}])
    r = await post_import(client, settings, "completions", "tinylms", body.encode(), export_format="json")
    assert r.status_code == 201, r.text
    [event] = await events(bus, runtime, COMPLETED, at_least=1)
    assert event["data"]["participant"] == {"system": "tinylms", "id": "T-1"} and event["data"]["category"] == "language"
    r = await post_import(client, settings, "credentials", "tinylms", b"[]", export_format="json")
    assert r.status_code == 422 and "no credentials export" in r.json()["detail"]

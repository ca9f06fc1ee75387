"""Generated reports: generation, citations, PII checks, rate limit, approval, PDF/PPTX exports, themes."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import pytest
from pptx import Presentation
from pypdf import PdfReader

from services.reporting import domain, generators
from services.reporting.tests.helpers import auth, evidence, metrics, publish
from services.reporting.tests.test_render import logo
from tests.helpers import eventually

pytestmark = pytest.mark.integration
ADMIN = ("company_admin",)


async def seed(runtime, bus, client, settings, n=6, tenant="acme"):
    for i in range(n):
        await publish(bus, runtime, evidence(f"{tenant}-ev-{i}", tenant=tenant, participant=f"P-{i % 3}",
                                             dims=(domain.DIMENSIONS[i % 4],), program=("buddy", "kintell")[i % 2],
                                             when=f"2026-02-{10 + i:02d}T10:00:00+00:00",
                                             snippet=f"Talking with Anna Berg made me braver, sentence {i}."))
    await publish(bus, runtime, metrics("m-1", tenant=tenant, vis=62.5, social=5000.0, investment=2000.0))

    async def ready():
        e = (await client.get("/v1/evidence", headers=auth(settings, tenant))).json()["items"]
        m = (await client.get("/v1/metrics", headers=auth(settings, tenant))).json()["items"]
        return len(e) >= n and m
    await eventually(ready, timeout=30)


async def count_reports(runtime):
    async with runtime.pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM gen_reports")


async def test_generate_view_approve_and_export(runtime, bus, client, settings, clock):
    await seed(runtime, bus, client, settings)
    png = logo()
    r = await client.put("/v1/themes", json={"primary_color": "#112233", "secondary_color": "#aabbcc",
                                             "logo_png_base64": base64.b64encode(png).decode()}, headers=auth(settings, roles=ADMIN))
    assert r.status_code == 200, r.text
    r = await client.post("/v1/gen-reports:generate", json={"company_id": "acme", "period": "2026-Q1", "template": "quarterly"},
                          headers=auth(settings))
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["status"] == "draft" and report["generator"] == domain.GENERATOR_VERSION
    assert [s["title"] for s in report["sections"]] == list(domain.SECTION_PLANS["quarterly"])
    assert all(p["citations"] for s in report["sections"] for p in s["paragraphs"])
    assert {c["chart"] for c in report["charts"]} == {"outcome_counts", "sroi_vis"}
    assert report["metrics"]["metric_id"] == "m-1"
    cited = [e["evidence_id"] for e in report["evidence"]]
    assert set(cited) == set(domain.cited_ids(report["sections"]))
    assert all("[name]" in e["preview"] and "Anna" not in e["preview"] for e in report["evidence"])
    assert report["evidence_hash"] == domain.evidence_hash(e["snippet_sha256"] for e in report["evidence"])
    rid = report["report_id"]

    # same inputs, same narrative (deterministic generator)
    again = (await client.post("/v1/gen-reports:generate", json={"company_id": "acme", "period": "2026-Q1",
                                                                  "template": "quarterly"}, headers=auth(settings))).json()
    assert again["sections"] == report["sections"] and again["report_id"] != rid

    got = await client.get(f"/v1/gen-reports/{rid}", headers=auth(settings))
    assert got.status_code == 200 and got.json()["sections"] == report["sections"]
    assert (await client.get(f"/v1/gen-reports/{rid}", headers=auth(settings) | {"If-None-Match": got.headers["etag"]})).status_code == 304
    listed = (await client.get("/v1/gen-reports?limit=1", headers=auth(settings))).json()
    page2 = (await client.get(f"/v1/gen-reports?limit=1&cursor={listed['next_cursor']}", headers=auth(settings))).json()
    assert {i["report_id"] for i in listed["items"] + page2["items"]} == {rid, again["report_id"]}

    pdf = await client.get(f"/v1/gen-reports/{rid}/export.pdf", headers=auth(settings))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Executive summary" in text and "Participant voice" in text and cited[0] in text
    assert report["evidence_hash"] in text and "DRAFT" in text
    # The export's ETag names its inputs: a client that has this file is not sent it again.
    assert pdf.headers["etag"].startswith('W/"')
    cached = await client.get(f"/v1/gen-reports/{rid}/export.pdf", headers=auth(settings) | {"If-None-Match": pdf.headers["etag"]})
    assert cached.status_code == 304 and not cached.content
    deck = Presentation(io.BytesIO((await client.get(f"/v1/gen-reports/{rid}/export.pptx", headers=auth(settings))).content))
    slides = [" ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame) for slide in deck.slides]
    assert any("Outcomes by dimension" in t for t in slides) and all("DRAFT" in t for t in slides)
    assert report["evidence_hash"] in deck.slides[0].notes_slide.notes_text_frame.text
    assert any(s.shape_type == 13 for s in deck.slides[0].shapes)  # the tenant logo

    # approval: role-gated, once
    assert (await client.post(f"/v1/gen-reports/{rid}/approve", headers=auth(settings))).status_code == 403
    ok = await client.post(f"/v1/gen-reports/{rid}/approve", headers=auth(settings, roles=ADMIN, sub="boss"))
    assert ok.status_code == 200 and ok.json()["status"] == "approved" and ok.json()["approved_by"] == "boss"
    assert (await client.post(f"/v1/gen-reports/{rid}/approve", headers=auth(settings, roles=ADMIN))).status_code == 409
    approved = await client.get(f"/v1/gen-reports/{rid}/export.pdf", headers=auth(settings) | {"If-None-Match": pdf.headers["etag"]})
    assert approved.status_code == 200 and approved.headers["etag"] != pdf.headers["etag"]  # approval changed the file
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(approved.content)).pages)
    assert "APPROVED" in text and "DRAFT" not in text

    # tenant isolation on every report route
    other = auth(settings, "globex", roles=ADMIN)
    for path in (f"/v1/gen-reports/{rid}", f"/v1/gen-reports/{rid}/export.pdf", f"/v1/gen-reports/{rid}/export.pptx"):
        assert (await client.get(path, headers=other)).status_code == 404
        assert (await client.get(path)).status_code == 401
    assert (await client.post(f"/v1/gen-reports/{again['report_id']}/approve", headers=other)).status_code == 404
    assert (await client.get("/v1/gen-reports", headers=other)).json()["items"] == []
    assert (await client.get("/v1/gen-reports/not-a-uuid", headers=auth(settings))).status_code == 404
    theme = await client.get("/v1/themes", headers=other)
    assert theme.json()["logo_png_base64"] is None and theme.json()["primary_color"] == "#1F4E79"
    assert (await client.get("/v1/themes", headers=auth(settings))).json()["primary_color"] == "#112233"
    async with runtime.pool.acquire() as conn:
        audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE outcome = 'denied_cross_tenant'")
    assert audited >= 4


async def test_bad_input_fails_cleanly_and_stores_nothing(runtime, bus, client, settings):
    await seed(runtime, bus, client, settings, n=2)
    h = auth(settings)
    cases = [
        ({"company_id": "acme", "period": "2026-Q1", "template": "weekly"}, 422),
        ({"company_id": "acme", "period": "2026-Q9", "template": "quarterly"}, 422),
        ({"company_id": "acme", "period": "2025-Q1", "template": "quarterly"}, 422),  # no evidence in that period
        ({"company_id": "acme", "period": "2026-Q1", "template": "quarterly", "extra": 1}, 422),
        ({"company_id": "globex", "period": "2026-Q1", "template": "quarterly"}, 404),
    ]
    for body, status in cases:
        r = await client.post("/v1/gen-reports:generate", json=body, headers=h)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json" and r.json()["detail"]
    assert await count_reports(runtime) == 0
    for body in ({"primary_color": "red", "secondary_color": "#000000"},
                 {"primary_color": "#000000", "secondary_color": "#000000", "logo_png_base64": "!!"},
                 {"primary_color": "#000000", "secondary_color": "#000000",
                  "logo_png_base64": base64.b64encode(b"GIF89a....").decode()},
                 {"primary_color": "#000000", "secondary_color": "#000000",
                  "logo_png_base64": base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"x" * 300_000).decode()}):
        r = await client.put("/v1/themes", json=body, headers=auth(settings, roles=ADMIN))
        assert r.status_code == 422, r.text
    assert (await client.put("/v1/themes", json={"primary_color": "#000000", "secondary_color": "#000000"},
                             headers=h)).status_code == 403


class Scripted:
    """A generator that returns fixed sections (to prove the checks around any generator)."""

    def __init__(self, sections):
        self.sections = sections

    async def generate(self, **_):
        return generators.Generated(sections=self.sections, charts=[], generator="scripted")


async def test_unknown_citation_or_pii_in_output_fails_with_422(runtime, bus, client, settings):
    await seed(runtime, bus, client, settings, n=2)
    await seed(runtime, bus, client, settings, n=1, tenant="globex")
    body = {"company_id": "acme", "period": "2026-Q1", "template": "quarterly"}
    for sections, detail in (
        ([{"title": "A", "paragraphs": [{"text": "x", "citations": ["ev-does-not-exist"]}]}], "ev-does-not-exist"),
        ([{"title": "A", "paragraphs": [{"text": "x", "citations": ["globex-ev-0"]}]}], "globex-ev-0"),  # other tenant's
        ([{"title": "A", "paragraphs": [{"text": "x", "citations": []}]}], "cites no evidence"),
        ([{"title": "A", "paragraphs": [{"text": "write to a.b@example.com", "citations": ["acme-ev-0"]}]}], "email"),
        ([{"title": "A", "paragraphs": [{"text": "call +47 912 34 567", "citations": ["acme-ev-0"]}]}], "phone"),
    ):
        runtime.app.state.generator = Scripted(sections)
        r = await client.post("/v1/gen-reports:generate", json=body, headers=auth(settings))
        assert r.status_code == 422 and detail in r.json()["detail"], r.text
    assert await count_reports(runtime) == 0
    runtime.app.state.generator = Scripted([{"title": "A", "paragraphs": [{"text": "fine", "citations": ["acme-ev-1"]}]}])
    assert (await client.post("/v1/gen-reports:generate", json=body, headers=auth(settings))).status_code == 201


async def test_rate_limit_per_company_per_hour(runtime, bus, client, settings, clock, reporting_settings):
    await seed(runtime, bus, client, settings, n=2)
    runtime.app.state.reporting_settings = reporting_settings.model_copy(update={"generations_per_hour": 2})
    body = {"company_id": "acme", "period": "2026-Q1", "template": "investor_update"}
    start = clock.now
    for minute in (0, 10):
        clock.now = start + timedelta(minutes=minute)
        assert (await client.post("/v1/gen-reports:generate", json=body, headers=auth(settings))).status_code == 201
    clock.now = start + timedelta(minutes=20)
    r = await client.post("/v1/gen-reports:generate", json=body, headers=auth(settings))
    assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) == 40 * 60
    assert await count_reports(runtime) == 2
    clock.now = start + timedelta(minutes=61)
    assert (await client.post("/v1/gen-reports:generate", json=body, headers=auth(settings))).status_code == 201

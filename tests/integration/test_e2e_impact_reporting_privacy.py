"""The CSR product end to end, over real NATS JetStream and Postgres:
imports go in; impact-calculator computes SROI and VIS whose lineage resolves to real events;
reporting generates a quarterly report whose every citation resolves, exports it as PDF and
PPTX, and shares it by a link that works and then expires; a DSAR export gathers the subject's
data from every holder, and a DSAR delete erases it everywhere after its window, while a
cancelled one erases nothing."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pptx import Presentation
from pypdf import PdfReader

from services.buddy_service.service import service as buddy_service
from services.impact_calculator.service import service as impact_calculator
from services.kintell_connector.service import service as kintell_connector
from services.privacy_orchestrator import config as privacy_config
from services.privacy_orchestrator import worker as privacy_worker
from services.privacy_orchestrator.service import service as privacy_orchestrator
from services.q2q_ai.service import service as q2q_ai
from services.reporting.service import service as reporting
from services.safety_moderation.service import service as safety_moderation
from services.unified_profile.service import service as unified_profile
from services.upskilling_connector.service import service as upskilling_connector
from summit_common.auth import mint_token
from tests.fixtures import api_client
from tests.helpers import ManualClock, eventually, read_subject

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
SERVICES = (kintell_connector, buddy_service, upskilling_connector, safety_moderation, q2q_ai, unified_profile,
            impact_calculator, reporting, privacy_orchestrator)
HOLDERS = {"kintell-connector", "buddy-service", "upskilling-connector", "unified-profile", "q2q-ai", "reporting",
           "impact-calculator", "safety-moderation"}
# One person as three source systems know them (the same refs a DSAR names).
AMINA = {"refs": [{"system": "kintell", "id": "KP-201"}, {"system": "buddy", "id": "BP-201"},
                  {"system": "ecornell", "id": "EC-1001"}]}
KARIM = {"refs": [{"system": "kintell", "id": "KP-204"}, {"system": "buddy", "id": "BP-204"}]}
T0 = datetime.now(UTC).replace(microsecond=0)


def auth(settings, roles=("admin",), tenant="acme") -> dict:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub='alice', tenant=tenant, roles=list(roles))}"}


@pytest.fixture
async def platform(start_service, settings):
    privacy_config.use(privacy_config.PrivacySettings())  # holders discovered from the catalogue
    privacy_config.clock.set(T0)
    runtimes = {s.name: await start_service(s, workers=False) for s in SERVICES}  # time-driven work runs by hand
    impact = httpx.AsyncClient(transport=httpx.ASGITransport(app=runtimes["impact-calculator"].app), base_url="http://impact")
    runtimes["reporting"].app.state.impact_client = impact
    runtimes["reporting"].app.state.clock = ManualClock(T0)
    clients = {name: api_client(r) for name, r in runtimes.items()}
    yield runtimes, clients
    for client in clients.values():
        await client.aclose()
    await impact.aclose()
    privacy_config.use(None)
    privacy_config.clock.set(None)


async def _post(client, path: str, file: Path, headers: dict, **params) -> dict:
    body = await asyncio.to_thread(file.read_bytes)
    r = await client.post(path, content=body, params=params, headers={**headers, "Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    return r.json()


async def _ok(client, path: str, headers: dict, check=lambda body: True, **params):
    async def probe():
        r = await client.get(path, params=params, headers=headers)
        return r.json() if r.status_code == 200 and check(r.json()) else None
    return await eventually(probe, timeout=60, interval=0.2)


async def _settled(runtimes) -> bool:
    """Nothing in flight: every outbox relayed and every consumer caught up (checked twice)."""
    for _ in range(2):
        for runtime in runtimes.values():
            async with runtime.pool.acquire() as conn:
                if await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"):
                    return False
            for consumer in runtime.consumers:
                stream = runtime.naming.stream(consumer.event_type.split(".", 1)[0])
                info = await runtime.js.consumer_info(stream, consumer.durable)
                if info.num_pending or info.num_ack_pending:
                    return False
        await asyncio.sleep(0.3)
    return True


async def _bus_event_ids(bus, runtime, types) -> set[str]:
    ids: set[str] = set()
    for event_type in types:
        msgs = await read_subject(bus, runtime.naming.stream(event_type.split(".", 1)[0]), runtime.naming.subject(event_type))
        ids |= {json.loads(m.data)["id"] for m in msgs}
    return ids


async def test_imports_to_cited_reports_shared_and_dsar_everywhere(platform, settings, bus):
    runtimes, http = platform
    admin = auth(settings)

    # 1. Imports go in.
    await _post(http["buddy-service"], "/v1/import/matches", ROOT / "services/buddy_service/samples/matches.csv", admin)
    await _post(http["buddy-service"], "/v1/import/feedback", ROOT / "services/buddy_service/samples/feedback.csv", admin)
    await _post(http["kintell-connector"], "/v1/import/kintell-sessions",
                ROOT / "services/kintell_connector/samples/language_sessions.csv", admin)
    await _post(http["upskilling-connector"], "/v1/import/course-completions",
                ROOT / "services/upskilling_connector/samples/ecornell_completions.csv", admin, provider="ecornell")

    # 2. SROI and VIS appear; their lineage resolves to events that really were on the bus.
    impact = http["impact-calculator"]
    await _ok(impact, "/v1/metrics/acme/2024-Q1", admin,
              lambda m: m["outcome_counts"].get("course_completed", 0) >= 2 and m["vis_score"] > 0)
    r = await impact.put("/v1/investments/acme/2024-Q1", json={"amount": 5000, "currency": "EUR"}, headers=admin)
    assert r.status_code == 200, r.text
    assert await eventually(lambda: _settled(runtimes), timeout=90)
    metric = (await impact.get("/v1/metrics/acme/2024-Q1", headers=admin)).json()
    assert metric["sroi_ratio"] == pytest.approx(metric["social_value"] / 5000, abs=1e-4) and metric["sroi_ratio"] > 0
    lineage = (await impact.get(f"/v1/lineage/{metric['metric_id']}", params={"limit": 200}, headers=admin)).json()
    lineage_ids = {e["event_id"] for e in lineage["events"]}
    on_bus = await _bus_event_ids(bus, runtimes["impact-calculator"], {e["event_type"] for e in lineage["events"]})
    assert lineage_ids and lineage_ids <= on_bus
    assert lineage["sroi"]["ratio_step"].endswith(f"= {metric['sroi_ratio']}")
    for evidence_id in lineage["evidence_ids"]:
        assert (await http["q2q-ai"].get(f"/v1/evidence/{evidence_id}", headers=admin)).status_code == 200

    # 3. A quarterly report in which every citation resolves, exported as PDF and PPTX.
    rep = http["reporting"]
    snapshot = await _ok(rep, "/v1/metrics", admin, lambda b: any(m.get("investment") == 5000 for m in b["items"]),
                         period="2024-Q1")
    assert snapshot["items"][0]["metric_id"] == metric["metric_id"]
    why = (await rep.get(f"/v1/metrics/{metric['metric_id']}/why", headers=admin)).json()
    assert why["evidence"] and all(e["status"] == "received" and e["preview"] for e in why["evidence"])
    r = await rep.post("/v1/gen-reports:generate", json={"company_id": "acme", "period": "2024-Q1", "template": "quarterly"},
                       headers=admin)
    assert r.status_code == 201, r.text
    report = r.json()
    paragraphs = [p for s in report["sections"] for p in s["paragraphs"]]
    assert paragraphs and all(p["citations"] for p in paragraphs)
    for evidence_id in {c for p in paragraphs for c in p["citations"]}:
        assert (await http["q2q-ai"].get(f"/v1/evidence/{evidence_id}", headers=admin)).status_code == 200
    pdf = await rep.get(f"/v1/gen-reports/{report['report_id']}/export.pdf", headers=admin)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert report["evidence_hash"] in text and "DRAFT" in text and report["sections"][0]["title"] in text
    pptx = await rep.get(f"/v1/gen-reports/{report['report_id']}/export.pptx", headers=admin)
    deck = Presentation(io.BytesIO(pptx.content))
    slide_text = " ".join(shape.text_frame.text for slide in deck.slides for shape in slide.shapes if shape.has_text_frame)
    assert report["sections"][0]["title"] in slide_text
    assert report["evidence_hash"] in deck.slides[0].notes_slide.notes_text_frame.text

    # 4. A share link works, then expires.
    link = (await rep.post("/v1/share-links", json={"report_id": report["report_id"], "ttl_days": 1}, headers=admin)).json()
    shared = await rep.get(link["url"])
    assert shared.status_code == 200 and shared.json()["sections"] == report["sections"]
    runtimes["reporting"].app.state.clock.now = T0 + timedelta(days=1, seconds=1)
    assert (await rep.get(link["url"])).status_code == 403

    # 5. DSAR export: one encrypted bundle with the subject's data from every holder.
    privacy, officer = http["privacy-orchestrator"], auth(settings, roles=("privacy-officer",))
    job = (await privacy.post("/v1/privacy/exports", json={"subject": AMINA}, headers=officer)).json()
    assert set(job["expected_holders"]) == HOLDERS
    await _ok(privacy, f"/v1/privacy/exports/{job['job_id']}", officer, lambda j: j["status"] == "complete")
    bundle = (await privacy.get(f"/v1/privacy/exports/{job['job_id']}/bundle", headers=officer)).json()
    held = {service: sum(len(rows) for rows in records.values()) for service, records in bundle["services"].items()}
    assert set(held) == HOLDERS and all(held.values()), held
    assert "KP-204" not in json.dumps(bundle["services"]["kintell-connector"])  # only this subject's records

    # 6. DSAR delete: nothing happens inside the window; a cancelled request never runs;
    #    after the window every holder erases and confirms.
    erase = (await privacy.post("/v1/privacy/deletions", json={"subject": AMINA}, headers=officer)).json()
    spared = (await privacy.post("/v1/privacy/deletions", json={"subject": KARIM}, headers=officer)).json()
    assert (await privacy.post(f"/v1/privacy/deletions/{spared['request_id']}/cancel", headers=officer)).status_code == 200
    assert (await privacy_worker.run_due(runtimes["privacy-orchestrator"], T0 + timedelta(days=29)))["fanned_out"] == 0
    assert (await privacy_worker.run_due(runtimes["privacy-orchestrator"], T0 + timedelta(days=30, seconds=1)))["fanned_out"] == 1
    done = await _ok(privacy, f"/v1/privacy/deletions/{erase['request_id']}", officer, lambda d: d["status"] == "complete")
    assert {h["service"] for h in done["holders"] if h["status"] == "ok"} == HOLDERS
    assert (await privacy.get(f"/v1/privacy/deletions/{spared['request_id']}", headers=officer)).json()["status"] == "cancelled"

    again = (await privacy.post("/v1/privacy/exports", json={"subject": AMINA}, headers=officer)).json()
    await _ok(privacy, f"/v1/privacy/exports/{again['job_id']}", officer, lambda j: j["status"] == "complete")
    after = (await privacy.get(f"/v1/privacy/exports/{again['job_id']}/bundle", headers=officer)).json()
    assert {s: sum(len(rows) for rows in records.values()) for s, records in after["services"].items()} == dict.fromkeys(HOLDERS, 0)
    assert (await http["kintell-connector"].get("/v1/sessions/KS-1001", headers=admin)).status_code == 404
    # Karim's cancelled deletion removed nothing.
    assert (await http["kintell-connector"].get("/v1/sessions/KS-1005", headers=admin)).status_code == 200
    assert (await http["buddy-service"].get("/v1/matches/BM-1004", headers=admin)).status_code == 200

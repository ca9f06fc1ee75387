"""DSAR: a person's facts are exported; erasure pseudonymises them and leaves the figures as they were."""

from __future__ import annotations

import pytest

from services.impact_calculator.tests.test_integration import P1, V1, auth, course, publish, wait_for
from summit_contracts import new_event
from tests.dsar import erase, export_records, subject

pytestmark = pytest.mark.integration


async def test_export_then_erase_keeps_figures_and_unlinks_the_person(runtime, bus, client, settings):
    await publish(bus, runtime, course("CC-1"))
    await publish(bus, runtime, new_event("kintell.session.completed.v1", {
        "session_id": "S-1", "session_type": "language", "participant": P1, "volunteer": V1,
        "started_at": "2025-02-10T09:00:00+00:00", "duration_minutes": 600}, source="test", tenantid="acme"))
    await publish(bus, runtime, course("CC-9", tenant="globex"))
    before = await wait_for(client, settings, lambda m: m["outcome_counts"].get("course_completed") == 1 and m["vis_score"] > 0)

    _, records = await export_records(bus, runtime, "acme", subject(("kintell", "P-1"), ("kintell", "V-1")))
    roles = sorted((f["fact"], f["role"]) for f in records["impact_facts"])
    assert roles == [("course:CC-1", "participant"), ("session:S-1", "participant")]  # P-1's rows; V-1 is on the same session row

    counts = await erase(bus, runtime, "acme", subject(("kintell", "V-1")))
    assert counts == {"impact_facts": 1}
    async with runtime.pool.acquire() as conn:
        volunteers = await conn.fetch("SELECT volunteer FROM facts WHERE volunteer IS NOT NULL")
        detail = await conn.fetchval("SELECT detail::text FROM metrics WHERE company_id = 'acme' AND period = '2025-Q1'")
    assert [v["volunteer"].startswith("erased:") for v in volunteers] == [True]
    assert "kintell:V-1" not in detail
    lineage = await client.get(f"/v1/lineage/{before['metric_id']}", headers=auth(settings))
    assert "V-1" not in lineage.text
    after = (await client.get("/v1/metrics/acme/2025-Q1", headers=auth(settings))).json()
    assert (after["vis_score"], after["social_value"]) == (before["vis_score"], before["social_value"])
    assert await erase(bus, runtime, "acme", subject(("kintell", "V-1"))) == {"impact_facts": 0}
    _, globex = await export_records(bus, runtime, "globex", subject(("kintell", "P-1")))
    assert [f["fact"] for f in globex["impact_facts"]] == ["course:CC-9"]  # the other tenant's rows are untouched

"""Evidence explorer and metric snapshots over real NATS JetStream and Postgres."""

from __future__ import annotations

import pytest

from services.reporting.service import service
from services.reporting.tests.helpers import auth, evidence, metrics, publish
from summit_common import dlq
from tests.helpers import eventually

pytestmark = pytest.mark.integration


async def wait_items(client, settings, path, n, tenant="acme"):
    async def ready():
        r = await client.get(path, headers=auth(settings, tenant))
        return r.json()["items"] if r.status_code == 200 and len(r.json()["items"]) >= n else None
    return await eventually(ready, timeout=30)


async def test_evidence_explorer_filters_pagination_pseudonyms_and_etag(runtime, bus, client, settings):
    await publish(bus, runtime, evidence("ev-1", participant="P-1", when="2025-12-20T10:00:00+00:00", program="kintell"))
    await publish(bus, runtime, evidence("ev-2", participant="P-1", when="2026-02-10T10:00:00+00:00", dims=("belonging",)))
    await publish(bus, runtime, evidence("ev-3", participant="P-2", when="2026-02-11T10:00:00+00:00",
                                         snippet="Mail me at ola@example.no, it helped."))
    await publish(bus, runtime, evidence("ev-4", participant="P-3", when="2026-03-01T10:00:00+00:00", dims=()))
    items = await wait_items(client, settings, "/v1/evidence", 4)
    assert [i["evidence_id"] for i in items] == ["ev-4", "ev-3", "ev-2", "ev-1"]
    by_id = {i["evidence_id"]: i for i in items}
    assert by_id["ev-2"]["participant"] == by_id["ev-1"]["participant"] != by_id["ev-3"]["participant"]
    assert by_id["ev-1"]["cohort"] == by_id["ev-2"]["cohort"] == "2025-Q4" and by_id["ev-3"]["cohort"] == "2026-Q1"
    assert by_id["ev-3"]["snippet"] == "Mail me at [email], it helped."
    assert by_id["ev-2"]["provenance"] == {"source_type": "kintell.session.completed.v1", "source_id": "S-ev-2",
                                           "evidence_id": "ev-2", "q2q_url": "/v1/evidence/ev-2"}
    r = await client.get("/v1/evidence", headers=auth(settings))
    assert "P-1" not in r.text and "P-2" not in r.text  # never the raw participant ref

    async def ids(query):
        r = await client.get(f"/v1/evidence?{query}", headers=auth(settings))
        assert r.status_code == 200, r.text
        return [i["evidence_id"] for i in r.json()["items"]]

    assert await ids("program=kintell") == ["ev-1"]
    assert await ids("dimension=belonging") == ["ev-2"]
    assert await ids("cohort=2025-Q4") == ["ev-2", "ev-1"]
    assert await ids("from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z") == ["ev-3", "ev-2"]
    page1 = (await client.get("/v1/evidence?limit=3", headers=auth(settings))).json()
    page2 = (await client.get(f"/v1/evidence?limit=3&cursor={page1['next_cursor']}", headers=auth(settings))).json()
    assert [i["evidence_id"] for i in page1["items"] + page2["items"]] == ["ev-4", "ev-3", "ev-2", "ev-1"]
    assert page2["next_cursor"] is None

    etag = r.headers["etag"]
    assert (await client.get("/v1/evidence", headers=auth(settings) | {"If-None-Match": etag})).status_code == 304
    # bad input: clear problems
    for query, status in (("cohort=2026-Q9", 422), ("limit=0", 400), ("cursor=%%%", 400),
                          ("from=2026-03-01T00:00:00Z&to=2026-02-01T00:00:00Z", 400)):
        bad = await client.get(f"/v1/evidence?{query}", headers=auth(settings))
        assert bad.status_code == status and bad.headers["content-type"] == "application/problem+json", query
    # isolation
    assert (await client.get("/v1/evidence", headers=auth(settings, "globex"))).json()["items"] == []
    assert (await client.get("/v1/evidence")).status_code == 401
    assert (await client.get("/v1/evidence", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_redelivered_evidence_counts_once_and_poison_goes_to_dlq(runtime, bus, client, settings):
    event = evidence("ev-r")
    await publish(bus, runtime, event)
    await publish(bus, runtime, event, msg_id="a-different-msg-id")  # past JetStream's dedupe: the inbox skips it
    bad = await publish(bus, runtime, evidence("ev-bad", sha="0" * 64))
    await publish(bus, runtime, evidence("ev-after"))
    await wait_items(client, settings, "/v1/evidence", 2)

    async def dead():
        entries = await dlq.list_entries(bus, runtime.naming, service.name)
        return [e for e in entries if bad.id.encode() in e.original]
    entries = await eventually(dead, timeout=30)
    assert entries[0].reason == "rejected_by_handler" and "sha256" in entries[0].error
    items = (await client.get("/v1/evidence", headers=auth(settings))).json()["items"]
    assert sorted(i["evidence_id"] for i in items) == ["ev-after", "ev-r"]
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM evidence WHERE evidence_id = 'ev-r'") == 1


async def test_metric_snapshots_latest_history_and_etag(runtime, bus, client, settings):
    await publish(bus, runtime, metrics("m-1", vis=60, computed="2026-03-02T00:00:00+00:00"))
    await publish(bus, runtime, metrics("m-1", vis=40, computed="2026-03-01T00:00:00+00:00"))  # older, arrives later
    await publish(bus, runtime, metrics("m-2", period="2025-Q4", vis=30))
    await publish(bus, runtime, metrics("m-9", tenant="globex", vis=99))

    async def settled():
        r = await client.get("/v1/metrics?history=true", headers=auth(settings))
        items = r.json()["items"]
        return items if len(items) == 2 and len(items[0]["history"]) == 2 else None
    items = await eventually(settled, timeout=30)
    assert [(i["period"], i["vis_score"]) for i in items] == [("2026-Q1", 60), ("2025-Q4", 30)]
    assert [h["vis_score"] for h in items[0]["history"]] == [60, 40]
    r = await client.get("/v1/metrics?period=2026-Q1", headers=auth(settings))
    assert [i["metric_id"] for i in r.json()["items"]] == ["m-1"] and "history" not in r.json()["items"][0]
    assert (await client.get("/v1/metrics?period=2026-Q1", headers=auth(settings) | {"If-None-Match": r.headers["etag"]})).status_code == 304
    assert (await client.get("/v1/metrics?period=26Q1", headers=auth(settings))).status_code == 422
    other = await client.get("/v1/metrics", headers=auth(settings, "globex"))
    assert [i["vis_score"] for i in other.json()["items"]] == [99]
    assert (await client.get("/v1/metrics")).status_code == 401

    poison = await publish(bus, runtime, metrics("m-x", tenant="acme") .model_copy(update={"tenantid": "globex"}))

    async def dead():
        return [e for e in await dlq.list_entries(bus, runtime.naming, service.name) if poison.id.encode() in e.original]
    assert await eventually(dead, timeout=30)


async def test_dsar_export_and_erasure_use_the_pseudonym(runtime, bus, client, settings):
    from tests.dsar import erase, export_records, subject

    await publish(bus, runtime, evidence("ev-a1", participant="P-A"))
    await publish(bus, runtime, evidence("ev-a2", participant="P-A", when="2026-01-02T10:00:00+00:00"))
    await publish(bus, runtime, evidence("ev-b1", participant="P-B"))
    await publish(bus, runtime, evidence("ev-g1", participant="P-A", tenant="globex"))
    await wait_items(client, settings, "/v1/evidence", 3)
    await wait_items(client, settings, "/v1/evidence", 1, tenant="globex")
    answer, records = await export_records(bus, runtime, "acme", subject(("kintell", "P-A")))
    assert sorted(r["evidence_id"] for r in records["evidence"]) == ["ev-a1", "ev-a2"]
    assert [r["cohort"] for r in records["cohort"]] == ["2026-Q1"]
    assert await erase(bus, runtime, "acme", subject(("kintell", "P-A"))) == {"evidence": 2, "cohort": 1}
    items = (await client.get("/v1/evidence", headers=auth(settings))).json()["items"]
    assert [i["evidence_id"] for i in items] == ["ev-b1"]
    assert len((await client.get("/v1/evidence", headers=auth(settings, "globex"))).json()["items"]) == 1


async def test_workers_start_the_hub_and_the_scheduler(settings, reporting_settings):
    from datetime import UTC, datetime

    from summit_common.runtime import ServiceRuntime
    from tests.fixtures import api_client

    runtime = ServiceRuntime(service, settings)  # workers on, as `summit run reporting` starts it
    now = {"at": datetime(2026, 3, 15, tzinfo=UTC)}
    runtime.app.state.clock = lambda: now["at"]
    runtime.app.state.reporting_settings = reporting_settings.model_copy(update={"scheduler_interval_seconds": 0.1})
    await runtime.start()
    try:
        async with api_client(runtime) as client:
            r = await client.post("/v1/schedules", json={"template": "quarterly", "frequency": "monthly",
                                                          "recipients": ["a@acme.example"]}, headers=auth(settings))
            assert r.status_code == 201
            now["at"] = datetime(2026, 4, 1, 1, tzinfo=UTC)

            async def ran():
                runs = (await client.get(f"/v1/schedules/{r.json()['schedule_id']}/runs", headers=auth(settings))).json()
                return runs["items"] if runs["items"] and runs["items"][0]["attempts"] >= 1 else None
            [run] = await eventually(ran, timeout=30)
            assert run["period"] == "2026-03" and "no evidence" in run["error"]  # nothing to report on: recorded
        assert runtime.app.state.sse_hub is not None
    finally:
        await runtime.stop()

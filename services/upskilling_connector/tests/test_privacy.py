"""Data-subject requests over real NATS + Postgres: export holds only the learner's rows of the
asking tenant; erasure deletes them and redacts report lines quoting the learner, is idempotent,
and leaves other learners and tenants intact."""

from __future__ import annotations

import pytest

from services.upskilling_connector.tests.support import count, import_sample, post_import
from tests.dsar import erase, export_records, subject

pytestmark = pytest.mark.integration

A = subject(("ecornell", "EC-1001"), ("ecornell", "amina@x.org"), ("itslearning", "EC-1002"))
TYPO = b"Email,Course Code,Course Name,Status,Completion Date,Grade,CEUs\nAmina@X.org amina,C-1,Course,Complete,03/04/2024,91,1\n"
SAMPLES = (("completions", "ecornell_completions.csv"), ("credentials", "ecornell_certificates.csv"),
           ("progress", "ecornell_progress.csv"))


async def learners(runtime, table: str, tenant: str) -> set[str]:
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT participant_id FROM {table} WHERE tenant_id = $1", tenant)
    return {r[0] for r in rows}


async def test_export_and_erasure_of_a_learner(client, runtime, bus, settings):
    for tenant in ("acme", "globex"):
        for kind, name in SAMPLES:
            assert (await import_sample(client, settings, kind, "ecornell", name, tenant=tenant)).status_code == 201
    assert (await post_import(client, settings, "completions", "ecornell", TYPO)).json()["rejected"] == 1

    answer, records = await export_records(bus, runtime, "acme", A)
    assert answer["record_counts"] == {"completions": 1, "credentials": 1, "progress": 1, "import_reports": 1}
    assert {r["participant"]["id"] for t in ("completions", "credentials", "progress") for r in records[t]} == {"EC-1001"}
    assert records["credentials"][0]["credential_id"] == "ecornell:CERT-2024-00417"
    assert "amina@x.org" in records["import_reports"][0]["reason"].lower()

    assert await erase(bus, runtime, "acme", A) == {"completions": 1, "credentials": 1, "progress": 1, "import_reports": 1}
    for table in ("completions", "credentials", "progress"):
        acme, globex = await learners(runtime, table, "acme"), await learners(runtime, table, "globex")
        assert "EC-1001" in globex and acme == globex - {"EC-1001"} and acme  # others kept
    async with runtime.pool.acquire() as conn:
        reports = await conn.fetchval("SELECT string_agg(errors::text, '') FROM imports WHERE tenant_id = 'acme'")
    assert "amina@x.org" not in reports.lower() and "redacted" in reports
    assert await count(runtime, "imports", "acme") == 4  # the reports (counters) stay
    assert set((await erase(bus, runtime, "acme", A)).values()) == {0}
    _, left = await export_records(bus, runtime, "acme", A)
    assert all(rows == [] for rows in left.values())

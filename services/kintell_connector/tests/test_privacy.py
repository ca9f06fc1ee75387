"""Data-subject requests over real NATS + Postgres: export holds only the subject's rows of
the asking tenant; erasure removes them (volunteer refs anonymised), is idempotent, and
leaves other people and tenants intact."""

from __future__ import annotations

import pytest

from services.kintell_connector.tests.support import import_csv, sample
from tests.dsar import erase, export_records, subject

pytestmark = pytest.mark.integration

A = subject(("kintell", "KP-201"), ("buddy", "B-9"))
CONFLICT = b"session_id,session_type,participant_id,volunteer_id,start_time,duration_minutes,language,level,status\n" \
           b"KS-1001,language,KP-201,KV-301,2024-03-04T14:00:00Z,45,uk,B1,cancelled\n"


async def sessions(runtime, tenant: str) -> dict[str, tuple[str, str]]:
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT session_id, participant_id, volunteer_id FROM kintell_sessions WHERE tenant_id = $1",
                                tenant)
    return {r["session_id"]: (r["participant_id"], r["volunteer_id"]) for r in rows}


async def test_export_and_erasure_of_a_participant_and_a_volunteer(client, runtime, bus, settings):
    for tenant in ("acme", "globex"):
        assert (await import_csv(client, settings, sample("language_sessions.csv"), tenant=tenant)).status_code == 201
    assert (await import_csv(client, settings, CONFLICT)).json()["rejected"] == 1

    answer, records = await export_records(bus, runtime, "acme", A)
    assert answer["record_counts"] == {"sessions": 2, "ratings": 1, "import_errors": 1}
    assert sorted(s["session_id"] for s in records["sessions"]) == ["KS-1001", "KS-1004"]
    assert [(r["rating_id"], r["comment"]) for r in records["ratings"]] == [("KS-1001:participant", "Very helpful")]
    assert "KS-1001" in records["import_errors"][0]["reason"]

    assert await erase(bus, runtime, "acme", A) == {"sessions": 2, "ratings": 1, "volunteer_refs": 0, "import_errors": 1}
    acme = await sessions(runtime, "acme")
    assert "KS-1001" not in acme and "KS-1004" not in acme and acme["KS-1002"] == ("KP-202", "KV-301")
    assert (await sessions(runtime, "globex"))["KS-1001"] == ("KP-201", "KV-301")
    async with runtime.pool.acquire() as conn:
        errors = await conn.fetchval("SELECT string_agg(errors::text, '') FROM imports WHERE tenant_id = 'acme'")
    assert "KS-1001" not in errors and "redacted" in errors
    assert await erase(bus, runtime, "acme", A) == {"sessions": 0, "ratings": 0, "volunteer_refs": 0, "import_errors": 0}

    _, left = await export_records(bus, runtime, "acme", A)
    assert left == {"sessions": [], "ratings": [], "import_errors": []}

    volunteer = subject(("kintell", "KV-303"))
    _, records = await export_records(bus, runtime, "acme", volunteer)
    assert sorted(s["session_id"] for s in records["sessions"]) == ["KS-1005", "KS-1006"]
    assert await erase(bus, runtime, "acme", volunteer) == {"sessions": 0, "ratings": 0, "volunteer_refs": 2,
                                                             "import_errors": 0}
    acme = await sessions(runtime, "acme")
    assert (acme["KS-1005"], acme["KS-1006"]) == (("KP-204", "erased"), ("KP-205", "erased"))  # participants' rows kept
    assert (await sessions(runtime, "globex"))["KS-1005"] == ("KP-204", "KV-303")

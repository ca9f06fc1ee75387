"""Two probe holders of personal data, for the orchestrator's integration tests (like
tests/integration/test_privacy_chassis.py): each keeps a `people` table and declares PersonalData."""

from __future__ import annotations

from pathlib import Path

from summit_common import Service
from summit_common.privacy import PersonalData, subject_refs

NAMES = ("privacy-probe-a", "privacy-probe-b")
BROKEN: set[str] = set()  # probes whose eraser raises (a holder that fails until fixed)
MATCH = "(system, ext_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))"
SEED = {
    "privacy-probe-a": [("acme", "kintell", "K-1", "a k1"), ("acme", "kintell", "K-2", "a k2"),
                        ("globex", "kintell", "K-1", "a globex")],
    "privacy-probe-b": [("acme", "buddy", "B-1", "b b1"), ("acme", "buddy", "B-2", "b b2"),
                        ("globex", "buddy", "B-1", "b globex")],
}


def probe(name: str, folder: Path) -> Service:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "0001_people.sql").write_text("CREATE TABLE people (tenant_id text, system text, ext_id text, note text);")

    async def export(conn, tenant, subject):
        rows = await conn.fetch(f"SELECT ext_id, note FROM people WHERE tenant_id = $1 AND {MATCH} ORDER BY note",
                                tenant, *subject_refs(subject))
        return {"people": [dict(r) for r in rows]}

    async def erase(conn, tenant, subject):
        if name in BROKEN:
            raise RuntimeError("probe storage is down")
        status = await conn.execute(f"DELETE FROM people WHERE tenant_id = $1 AND {MATCH}", tenant, *subject_refs(subject))
        return {"people": int(status.split()[-1])}

    return Service(name=name, description="probe holder of personal data", migrations=folder,
                   personal_data=PersonalData(categories={"people": "notes about people"}, export=export, erase=erase))


async def seed(runtime) -> None:
    async with runtime.pool.acquire() as conn:
        await conn.executemany("INSERT INTO people VALUES ($1, $2, $3, $4)", SEED[runtime.service.name])


async def notes(runtime) -> list[tuple[str, str]]:
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT tenant_id, note FROM people ORDER BY tenant_id, note")
    return [(r["tenant_id"], r["note"]) for r in rows]

"""Helpers for buddy-service integration tests: tokens, samples, imports, and readers for the
rows and events the service produced."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from summit_common.auth import mint_token
from tests.helpers import read_subject

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MATCH_CREATED = "buddy.match.created.v1"
EVENT_LOGGED = "buddy.event.logged.v1"
CHECKIN_COMPLETED = "buddy.checkin.completed.v1"
FEEDBACK_SUBMITTED = "buddy.feedback.submitted.v1"
ORDER = ("matches", "events", "checkins", "feedback")


def auth(settings, tenant: str = "acme", sub: str = "importer-1", roles: tuple[str, ...] = ("company_user",)) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub=sub, tenant=tenant, roles=list(roles))}"}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


async def import_csv(client, settings, kind: str, body: bytes, *, tenant: str = "acme", **params) -> httpx.Response:
    headers = {**auth(settings, tenant), "Content-Type": "text/csv"}
    return await client.post(f"/v1/import/{kind}", content=body, headers=headers, params=params)


async def import_samples(client, settings, *, tenant: str = "acme") -> list[dict]:
    """The four sample files, one request each, in dependency order; returns the reports."""
    reports = []
    for kind in ORDER:
        r = await import_csv(client, settings, kind, sample(f"{kind}.csv"), tenant=tenant)
        assert r.status_code == 201, r.text
        reports.append(r.json())
    return reports


async def post_json(client, settings, kind: str, payload, *, tenant: str = "acme", **params) -> httpx.Response:
    return await client.post(f"/v1/{kind}", content=json.dumps(payload).encode(), params=params,
                             headers={**auth(settings, tenant), "Content-Type": "application/json"})


async def events(bus, runtime, event_type: str, *, at_least: int = 0) -> list[dict]:
    """Every event of `event_type` this test's service published (the outbox relays after commit)."""
    msgs = await read_subject(bus, runtime.naming.stream("buddy"), runtime.naming.subject(event_type), at_least=at_least)
    return [json.loads(m.data) for m in msgs]


async def count(runtime, table: str, tenant: str | None = None) -> int:
    async with runtime.pool.acquire() as conn:
        if tenant is None:
            return await conn.fetchval(f"SELECT count(*) FROM {table}")
        return await conn.fetchval(f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant)


def counts(report: dict) -> tuple[int, int, int, int]:
    return report["rows_total"], report["accepted"], report["rejected"], report["duplicates"]

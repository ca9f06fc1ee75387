"""Helpers for kintell-connector integration tests: tokens, samples, signed webhooks, and
readers for the rows and events the service produced."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from services.kintell_connector import domain
from summit_common.auth import mint_token
from tests.helpers import read_subject

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
WEBHOOK_SECRET = "kintell-test-webhook-secret"
BETA_SECRET = "beta-has-its-own-secret"


def auth(settings, tenant: str = "acme", sub: str = "importer-1") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub=sub, tenant=tenant, roles=['company_user'])}"}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


async def import_csv(client, settings, body: bytes, *, tenant: str = "acme", mapping: str | None = None) -> httpx.Response:
    params = {"mapping": mapping} if mapping else {}
    headers = {**auth(settings, tenant), "Content-Type": "text/csv"}
    return await client.post("/v1/import/kintell-sessions", content=body, headers=headers, params=params)


def signed_headers(body: bytes, *, tenant: str = "acme", secret: str = WEBHOOK_SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {
        "Content-Type": "application/json",
        "X-Summit-Tenant": tenant,
        "X-Kintell-Timestamp": timestamp,
        "X-Kintell-Signature": domain.sign(secret, timestamp, tenant, body),
    }


async def post_webhook(client, kind: str, payload: dict, **sign_kwargs) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await client.post(f"/v1/webhooks/{kind}", content=body, headers=signed_headers(body, **sign_kwargs))


async def events(bus, runtime, event_type: str, *, at_least: int = 0) -> list[dict]:
    """Every event of `event_type` this test's service has published (the outbox relays after commit)."""
    msgs = await read_subject(bus, runtime.naming.stream("kintell"), runtime.naming.subject(event_type), at_least=at_least)
    return [json.loads(m.data) for m in msgs]


async def count(runtime, table: str, tenant: str | None = None) -> int:
    async with runtime.pool.acquire() as conn:
        if tenant is None:
            return await conn.fetchval(f"SELECT count(*) FROM {table}")
        return await conn.fetchval(f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant)


async def unsent_outbox(runtime) -> int:
    async with runtime.pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")

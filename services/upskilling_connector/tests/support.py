"""Helpers for upskilling-connector integration tests: tokens, samples, imports, and readers for
the rows and events the service produced."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from summit_common.auth import mint_token
from tests.helpers import eventually, read_subject

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
COMPLETED = "upskilling.course.completed.v1"
CREDENTIAL = "upskilling.credential.issued.v1"
PROGRESS = "upskilling.progress.updated.v1"
ROUTES = {"completions": "/v1/import/course-completions", "credentials": "/v1/import/credentials",
          "progress": "/v1/import/progress"}
MEDIA = {"csv": "text/csv", "json": "application/json"}


def auth(settings, tenant: str = "acme", sub: str = "importer-1", roles=("company_user",)) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub=sub, tenant=tenant, roles=list(roles))}"}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


async def post_import(client, settings, kind: str, provider: str, body: bytes, *, export_format: str | None = None,
                      tenant: str = "acme", roles=("company_user",)) -> httpx.Response:
    headers = {**auth(settings, tenant, roles=roles), "Content-Type": MEDIA[export_format or "csv"]}
    return await client.post(ROUTES[kind], params={"provider": provider}, content=body, headers=headers)


async def import_sample(client, settings, kind: str, provider: str, name: str, **kwargs) -> httpx.Response:
    return await post_import(client, settings, kind, provider, sample(name), export_format=name.rsplit(".", 1)[1],
                             **kwargs)


async def outbox_flushed(runtime) -> None:
    async with runtime.pool.acquire() as conn:
        await eventually(lambda: conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"))


async def events(bus, runtime, event_type: str, *, at_least: int = 0) -> list[dict]:
    """Every event of `event_type` this test's service published (read after the outbox relayed it)."""
    await outbox_flushed(runtime)
    msgs = await read_subject(bus, runtime.naming.stream("upskilling"), runtime.naming.subject(event_type),
                              at_least=at_least)
    return [json.loads(m.data) for m in msgs]


async def count(runtime, table: str, tenant: str | None = None) -> int:
    async with runtime.pool.acquire() as conn:
        if tenant is None:
            return await conn.fetchval(f"SELECT count(*) FROM {table}")
        return await conn.fetchval(f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant)


def summary(report: dict) -> tuple[int, int, int, int, int]:
    return (report["rows_total"], report["accepted"], report["duplicates"], report["skipped"], report["rejected"])

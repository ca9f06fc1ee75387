"""Test helpers: a tiny upstream app, tokens, membership set-up, reading audit rows and events."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from services.api_gateway import store
from summit_common.auth import mint_token
from summit_common.runtime import ServiceRuntime
from tests.helpers import eventually, read_subject

ACME, GLOBEX = "acme", "globex"
PROBLEM = "application/problem+json"
# Every service named in routes.yaml, each answered by an echo app (see `echo_mounts`).
ROUTED = ("kintell-connector", "unified-profile", "buddy-service", "upskilling-connector", "q2q-ai", "safety-moderation",
          "impact-calculator", "reporting", "impact-in", "privacy-orchestrator")


class Echo:
    """An upstream service that answers with what it received (and counts the calls)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0
        self.ready = True
        self.release = asyncio.Event()  # /slow waits for it
        self.app = self._build()

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/readyz")
        async def readyz():
            return JSONResponse({"ready": self.ready}, status_code=200 if self.ready else 503)

        @app.get("/v1/big")
        async def big(size: int = 1 << 20):
            async def chunks():
                for i in range(0, size, 65536):
                    yield bytes([i // 65536 % 256]) * min(65536, size - i)
            self.calls += 1
            return StreamingResponse(chunks(), media_type="application/octet-stream", headers={"content-length": str(size)})

        @app.get("/v1/slow")
        async def slow():
            self.calls += 1
            await self.release.wait()
            return {"slow": True}

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
        async def echo(path: str, request: Request):
            self.calls += 1
            body = await request.body()
            payload = {
                "service": self.name, "method": request.method, "path": request.url.path,
                "query": request.url.query, "headers": [[k, v] for k, v in request.headers.items()],
                "body_len": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
            }
            return Response(json.dumps(payload), status_code=int(request.headers.get("x-echo-status", "200")),
                            media_type="application/json",
                            headers={"x-upstream": self.name, "x-hop": "drop-me", "connection": "x-hop",
                                     "set-cookie": f"upstream_session={self.calls}; Path=/"})

        return app


def header(echoed: dict, name: str) -> list[str]:
    return [v for k, v in echoed["headers"] if k == name]


def token(settings, *, sub: str = "u1", tenant: str = ACME, roles: tuple[str, ...] = ("company_user",), ttl: int = 3600) -> str:
    return mint_token(settings.jwt_secret, sub=sub, tenant=tenant, roles=roles, ttl_seconds=ttl)


def auth(settings, **kw) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(settings, **kw)}"}


async def add_member(runtime: ServiceRuntime, company: str, user: str, role: str) -> None:
    """Set-up straight into the tables (the admin routes are tested on their own)."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        await store.insert_company(conn, company_id=company, name=company.title(), created_by="test")
        await store.upsert_member(conn, company_id=company, user_id=user, role=role, added_by="test")


async def audit_rows(runtime: ServiceRuntime, **where: Any) -> list[dict]:
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM audit_logs ORDER BY id")
    out = [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]
    return [r for r in out if all(r[k] == v for k, v in where.items())]


async def outbox_flushed(runtime: ServiceRuntime) -> None:
    async with runtime.pool.acquire() as conn:
        await eventually(lambda: conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"))


async def events(js, runtime: ServiceRuntime, event_type: str, *, at_least: int = 0) -> list[dict]:
    await outbox_flushed(runtime)
    msgs = await read_subject(js, runtime.naming.stream("gateway"), runtime.naming.subject(event_type), at_least=at_least)
    return [json.loads(m.data) for m in msgs]


def metric(runtime: ServiceRuntime, name: str, labels: dict | None = None) -> float:
    return runtime.metrics.registry.get_sample_value(name, labels or {}) or 0.0

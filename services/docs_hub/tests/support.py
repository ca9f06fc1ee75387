"""Helpers for docs-hub integration tests: a synthetic checkout, tokens, calls, and readers for
the rows and events the service produced."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import httpx

from services.docs_hub import scan
from services.docs_hub.indexer import COVERAGE_REPORTED
from summit_common.auth import mint_token
from tests.helpers import eventually, read_subject

TENANT = "platform"
OTHER = "beta"

KINTELL_README = """# kintell-connector

Imports Kintell sessions.

## Endpoints

| Method | Path | |
|---|---|---|
| POST | `/v1/import/kintell-sessions?mapping=default` | import a CSV |
| GET | `/v1/imports/{id}` | an import report |
| GET | `/v1/sessions/{id}` | one session |

## Webhooks

Kintell calls `POST /v1/webhooks/session`.

## Events

Emits `kintell.session.scheduled.v1` and `kintell.session.completed.v1`.
"""

PROFILE_README = """# unified-profile

- `GET /v1/profiles/{profile_id}` and `PUT /v1/profiles/{profile_id}`
- `GET /v1/profiles?system=&external_id=`
- `POST /v1/profiles/mappings`

Consumes kintell.session.completed.v1, emits orchestration.profile.updated.v1.
"""

ADR = """# ADR 0001: one outbox per service

kintell-connector writes its events to the outbox in the import transaction.
"""

RUNBOOK = """# Recovering profiles

If GET /v1/profiles/{id} answers 500, check the pool.
"""


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_repo(root: Path) -> Path:
    write(root, "services/kintell_connector/README.md", KINTELL_README)
    write(root, "services/unified_profile/README.md", PROFILE_README)
    write(root, "services/orphan_thing/README.md", "# not a service\n")
    write(root, "docs/adr/0001-outbox.md", ADR)
    write(root, "docs/runbooks/unified_profile-recovery.md", RUNBOOK)
    return root


FILE_DOCS = 4  # the two READMEs of catalogue services, the ADR and the runbook (the orphan is skipped)


_load_catalogue = scan.load_catalogue  # the real one (tests patch scan.load_catalogue with frozen_catalogue)


@functools.cache
def frozen_catalogue():
    """The platform's real catalogue, loaded once per test session. Other teams add services
    while tests run; every refresh of a test must see the same catalogue as its assertions."""
    return _load_catalogue()


def expected_docs() -> int:
    """Documents a refresh of the synthetic checkout finds: an OpenAPI document per service with
    a router, an AsyncAPI document per service with events, and the files."""
    _, services, _, _ = frozen_catalogue()
    specs = sum(1 for s in services.values() if s.router is not None) + sum(
        1 for s in services.values() if s.handlers or s.emits)
    return specs + FILE_DOCS


def service_names() -> set[str]:
    return {s.name for s in frozen_catalogue()[0].services}


def auth(settings, tenant: str = TENANT, roles: tuple[str, ...] = ("admin",), sub: str = "ci") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub=sub, tenant=tenant, roles=list(roles))}"}


async def refresh(client, settings, *, tenant: str = TENANT, commit: str | None = None, status: int = 200) -> dict:
    body = {"commit": commit} if commit else None
    r = await client.post("/v1/index:refresh", json=body, headers=auth(settings, tenant))
    assert r.status_code == status, r.text
    return r.json()


async def docs(client, settings, *, tenant: str = TENANT, **params) -> httpx.Response:
    return await client.get("/v1/docs", params=params, headers=auth(settings, tenant, roles=("company_user",)))


async def doc_id(client, settings, key: str, *, tenant: str = TENANT) -> str:
    r = await docs(client, settings, tenant=tenant, limit=200)
    assert r.status_code == 200, r.text
    [found] = [d["doc_id"] for d in r.json()["items"] if d["key"] == key]
    return found


async def count(runtime, table: str, tenant: str | None = None) -> int:
    async with runtime.pool.acquire() as conn:
        if tenant is None:
            return await conn.fetchval(f"SELECT count(*) FROM {table}")
        return await conn.fetchval(f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant)


async def outbox_flushed(runtime) -> None:
    async with runtime.pool.acquire() as conn:
        await eventually(lambda: conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"))


async def coverage_events(bus, runtime, *, at_least: int = 0) -> list[dict]:
    """The coverage events this test's service published (after the outbox relayed them)."""
    await outbox_flushed(runtime)
    msgs = await read_subject(bus, runtime.naming.stream("governance"), runtime.naming.subject(COVERAGE_REPORTED),
                              at_least=at_least)
    return [json.loads(m.data) for m in msgs]

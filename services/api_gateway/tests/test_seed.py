"""The demo seed on real Postgres: 3 companies, 10 users, idempotent, tokens that pass the gateway."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import jwt
import pytest

from services.api_gateway import seed
from services.api_gateway.tests.conftest import client_for
from tests.fixtures import DEV_SECRET

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


async def test_the_seed_creates_the_demo_once_and_its_tokens_pass_the_gateway(settings, make_gateway, echoes):
    first = await seed.seed(settings, secret=DEV_SECRET)
    assert (first.companies_changed, first.memberships_changed) == (3, 10)
    again = await seed.seed(settings, secret=DEV_SECRET)
    assert (again.companies_changed, again.memberships_changed) == (0, 0)

    gateway = await make_gateway()
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM companies") == 3
        roles = Counter(r["role"] for r in await conn.fetch("SELECT role FROM company_users"))
        assert roles == {"admin": 3, "company_user": 3, "participant": 4}
        assert await conn.fetchval("SELECT count(DISTINCT user_id) FROM company_users") == 10
        # one announcement per change, none for the second run
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 10

    assert len(first.tokens) == 10
    claims = [jwt.decode(t["token"], DEV_SECRET, algorithms=["HS256"], issuer="summit") for t in first.tokens]
    assert {(c["tenant"], c["sub"], tuple(c["roles"])) for c in claims} == {(c, u, (r,)) for c, u, r in seed.MEMBERS}

    # a role changed by hand is put back (and announced) by the next run
    async with gateway.pool.acquire() as conn:
        await conn.execute("UPDATE company_users SET role = 'admin' WHERE user_id = 'bob@acme.test'")
    fixed = await seed.seed(settings, secret=DEV_SECRET)
    assert fixed.memberships_changed == 1

    by_role = {t["role"]: t for t in first.tokens if t["company"] == "acme"}
    async with client_for(gateway) as client:
        staff = await client.get("/api/kintell/sessions", headers={"Authorization": f"Bearer {by_role['company_user']['token']}"})
        assert staff.status_code == 200
        participant = await client.get("/api/kintell/sessions",
                                       headers={"Authorization": f"Bearer {by_role['participant']['token']}"})
        assert participant.status_code == 403
        admin = await client.get("/v1/companies/acme/users", headers={"Authorization": f"Bearer {by_role['admin']['token']}"})
        assert admin.status_code == 200 and len(admin.json()["items"]) == 4


def test_the_seed_runs_as_a_module_and_prints_a_token_per_user(settings):
    env = {"DATABASE_URL": settings.database_url, "SUMMIT_SCHEMA_SUFFIX": settings.schema_suffix,
           "SUMMIT_JWT_SECRET": DEV_SECRET, "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "services.api_gateway.seed"], env=env, capture_output=True, text=True,
                         timeout=120, check=False, cwd=REPO)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.count(".") >= 2 and "@" in line]
    assert len(lines) == 10
    assert "3 companies (3 changed), 10 users (10 memberships changed)" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "services.api_gateway.seed"], capture_output=True, text=True, timeout=60,
                         env={**env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/postgres"}, check=False, cwd=REPO)
    assert bad.returncode == 1 and "cannot seed the database" in bad.stderr

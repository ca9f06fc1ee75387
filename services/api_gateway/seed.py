"""Demo data for the api-gateway: 3 companies, 10 users, a mix of roles, and a token per user.

    DATABASE_URL=postgresql://... .venv/bin/python -m services.api_gateway.seed [--ttl-hours 12] [--json]

Idempotent: the tables are brought to the demo state (companies created or renamed,
memberships added or their role reset); a second run changes nothing. Every membership it
adds or changes is announced like the admin routes do (gateway.membership.changed.v1 via
the outbox, published by a running gateway's relay), so running gateways drop stale cache
entries. It applies the gateway's migrations itself, so it works before the gateway first
started. Tokens are signed with SUMMIT_JWT_SECRET, else the dev secret of `summit up`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from services.api_gateway import store
from summit_common import db, outbox
from summit_common.auth import mint_token
from summit_common.bus import Naming
from summit_common.settings import Settings
from summit_contracts import REGISTRY, new_event

MIGRATIONS = Path(__file__).parent / "migrations"
SOURCE = "api-gateway"
CHANGED = "gateway.membership.changed.v1"

COMPANIES = {
    "acme": "Acme Logistics AS",
    "globex": "Globex Energy ASA",
    "initech": "Initech Software AB",
}
# (company, user, role): 3 admins, 3 company users, 4 participants.
MEMBERS = [
    ("acme", "alice@acme.test", "admin"),
    ("acme", "bob@acme.test", "company_user"),
    ("acme", "carol@acme.test", "participant"),
    ("acme", "dave@acme.test", "participant"),
    ("globex", "erin@globex.test", "admin"),
    ("globex", "frank@globex.test", "company_user"),
    ("globex", "grace@globex.test", "participant"),
    ("initech", "heidi@initech.test", "admin"),
    ("initech", "ivan@initech.test", "company_user"),
    ("initech", "judy@initech.test", "participant"),
]


@dataclass(frozen=True)
class SeedResult:
    companies_changed: int
    memberships_changed: int
    tokens: list[dict[str, str]]


async def seed(settings: Settings, *, secret: str, ttl_seconds: int = 12 * 3600) -> SeedResult:
    schema = db.check_schema_name("api_gateway" + settings.schema_suffix)
    naming = Naming(settings.subject_prefix)
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": schema})
    try:
        migrations = db.load_migrations(db.CHASSIS_MIGRATIONS, namespace="chassis")
        migrations += db.load_migrations(MIGRATIONS, namespace="api_gateway")
        await db.migrate(conn, schema, migrations)
        companies_changed = memberships_changed = 0
        async with conn.transaction():
            announced = []
            for company_id, name in COMPANIES.items():
                companies_changed += await store.upsert_company(conn, company_id=company_id, name=name, created_by="seed")
            for company_id, user_id, role in MEMBERS:
                change, previous = await store.upsert_member(conn, company_id=company_id, user_id=user_id, role=role,
                                                             added_by="seed")
                if change == "unchanged":
                    continue
                memberships_changed += 1
                await store.insert_audit(conn, company_id=company_id, actor="seed", action=f"membership.{change}",
                                         outcome="changed", reason=f"membership.{change}",
                                         detail={"user_id": user_id, "role": role, "previous_role": previous})
                data = REGISTRY.get(CHANGED).validate({"user_id": user_id, "company_id": company_id, "change": change,
                                                       "role": role, "changed_at": datetime.now(UTC)})
                announced.append(new_event(CHANGED, data, source=SOURCE, tenantid=company_id, subject=user_id))
            await outbox.write(conn, announced, naming, outbox.channel_for(schema))
    finally:
        await conn.close()
    tokens = [
        {"company": company_id, "user": user_id, "role": role,
         "token": mint_token(secret, sub=user_id, tenant=company_id, roles=[role], ttl_seconds=ttl_seconds,
                             issuer=settings.jwt_issuer)}
        for company_id, user_id, role in MEMBERS
    ]
    return SeedResult(companies_changed, memberships_changed, tokens)


def main(argv: list[str] | None = None) -> int:
    from summit_common.cli import dev_secret

    parser = argparse.ArgumentParser(prog="python -m services.api_gateway.seed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ttl-hours", type=float, default=12.0, help="token lifetime (default 12)")
    parser.add_argument("--json", action="store_true", help="print the tokens as JSON")
    args = parser.parse_args(argv)
    settings = Settings()
    secret = settings.jwt_secret or dev_secret()
    try:
        result = asyncio.run(seed(settings, secret=secret, ttl_seconds=int(args.ttl_hours * 3600)))
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"seed: cannot seed the database at DATABASE_URL: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.tokens, indent=2))
        return 0
    print(f"api-gateway seed: {len(COMPANIES)} companies ({result.companies_changed} changed), {len(MEMBERS)} users "
          f"({result.memberships_changed} memberships changed)\n")
    for row in result.tokens:
        print(f"{row['company']:8} {row['role']:13} {row['user']:20} {row['token']}")
    print("\nUse: curl -H 'Authorization: Bearer <token>' http://127.0.0.1:<gateway port>/api/...")
    return 0


if __name__ == "__main__":
    sys.exit(main())

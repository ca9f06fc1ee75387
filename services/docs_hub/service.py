"""Declares docs-hub: no subscriptions (it reads the repository and the platform's own
catalogue, not the bus), the routes, the migrations, and the coverage event it emits."""

from pathlib import Path

from services.docs_hub import api, indexer
from summit_common import Service

service = Service(
    name="docs-hub",
    description="Docs-as-code hub: indexes specs, READMEs, ADRs and runbooks, links them to endpoints and events, "
                "checks drift and reports documentation coverage",
    handlers={},
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    emits=(indexer.COVERAGE_REPORTED,),
)

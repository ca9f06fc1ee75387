"""Declares schema-council: no subscriptions (it reads the platform catalogue and takes
proposals over HTTP), the routes, the migrations, and the three governance events it emits."""

from pathlib import Path

from services.schema_council import api
from summit_common import Service

EMITS = (
    "governance.proposal.submitted.v1",
    "governance.proposal.decided.v1",
    "governance.contract.deprecated.v1",
)

service = Service(
    name="schema-council",
    description="Governs contract changes: proposals with automatic diffs, compatibility verdicts and impact; "
                "the contract catalogue with deprecation windows; change logs; the CI contract gate",
    handlers={},
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    emits=EMITS,
)

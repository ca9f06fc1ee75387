"""Declares blast-radius: what it consumes, emits and serves.

Consumes: governance.proposal.decided.v1 (approvals that breaking changes need).
Emits: governance.readiness.signaled.v1 (one per assessment, again when a decision flips it).
"""

from pathlib import Path

from services.blast_radius import api, domain, handlers
from summit_common import Service

service = Service(
    name="blast-radius",
    description="Change impact and blast radius: impact graphs, risk scores and readiness signals for contract, policy and version changes",
    handlers={"governance.proposal.decided.v1": handlers.on_proposal_decided},
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    emits=(domain.READINESS_SIGNALED,),
)

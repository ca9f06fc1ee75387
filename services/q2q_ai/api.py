"""HTTP routes of q2q-ai (bearer JWT; company_user or admin; scoped to the caller's tenant).

  GET  /v1/outcomes                 scores, filtered (participant=system:id, dimension, from, to), cursor pages
  GET  /v1/outcomes/{score_id}      one score with its explanation
  GET  /v1/evidence/{evidence_id}   one masked evidence snippet, its hash, and the scores that cite it
  POST /v1/analyse                  preview: mask and score a text with the configured provider; stores
                                    nothing, emits nothing (to read how the model reasons)
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.q2q_ai import domain, store
from services.q2q_ai.providers import ScoringProvider
from summit_common import tenancy
from summit_common.auth import Principal, require_role
from summit_common.pagination import as_utc, clamp_limit, decode_time_cursor, encode_cursor
from summit_common.problems import Problem

# Scores describe individual participants: company staff and admins read them; a participant
# token does not (platform-admin passes as well, see Principal.has).
READ_ROLES = ("company_user", "admin")
Reader = Annotated[Principal, Depends(require_role(*READ_ROLES))]
_PARTICIPANT = re.compile(r"^(?P<system>[a-z][a-z0-9_]{0,39}):(?P<id>\S.{0,199})$")


def parse_participant(value: str) -> tuple[str, str]:
    match = _PARTICIPANT.match(value)
    if match is None or not match.group("id").strip():
        raise Problem(422, "invalid participant",
                      f"participant must be 'system:id' (system: lower-case letters, digits, '_'), e.g. kintell:K-1042; got {value!r}")
    return match.group("system"), match.group("id").strip()




def _after(cursor: str | None) -> tuple[datetime, str] | None:
    key = decode_time_cursor(cursor)
    if key is not None and store.as_uuid(key[1]) is None:
        raise Problem(400, "invalid cursor", "the cursor is not one this API returned")
    return key


async def list_outcomes(
    request: Request,
    caller: Reader,
    participant: Annotated[str | None, Query(description="system:id, e.g. kintell:K-1042")] = None,
    dimension: Annotated[str | None, Query(description="one of " + ", ".join(domain.DIMENSIONS))] = None,
    observed_from: Annotated[datetime | None, Query(alias="from", description="text written at or after (inclusive)")] = None,
    observed_to: Annotated[datetime | None, Query(alias="to", description="text written before (exclusive)")] = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The caller's tenant's outcome scores, newest text first. from/to filter on when the
    text was written (naive times are UTC)."""
    who = parse_participant(participant) if participant is not None else None
    if dimension is not None:
        try:
            dimension = domain.parse_dimension(dimension).value
        except ValueError as exc:
            raise Problem(422, "invalid dimension", str(exc)) from None
    observed_from, observed_to = as_utc(observed_from), as_utc(observed_to)
    if observed_from is not None and observed_to is not None and observed_from >= observed_to:
        raise Problem(422, "invalid time range", "'from' must be before 'to'")
    limit = clamp_limit(limit)
    after = _after(cursor)
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        rows = await store.list_outcomes(conn, tenant=caller.tenant, limit=limit + 1, participant=who, dimension=dimension,
                                         observed_from=observed_from, observed_to=observed_to, after=after)
    page = rows[:limit]
    more = len(rows) > limit
    return {"items": page, "next_cursor": encode_cursor(page[-1]["observed_at"].isoformat(), page[-1]["score_id"]) if more else None}


async def get_outcome(score_id: str, request: Request, caller: Reader) -> dict[str, Any]:
    """One score with its explanation and the ids of the evidence it cites."""
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        found = await store.get_outcome(conn, score_id=score_id)
    if found is None or not caller.can_see(found[0]):
        raise await tenancy.not_found(runtime.pool, caller, f"outcome {score_id}", owner_tenant=found[0] if found else None)
    return found[1]


async def get_evidence(evidence_id: str, request: Request, caller: Reader) -> dict[str, Any]:
    """A masked evidence snippet with the sha256 of its text, where it came from, and the scores citing it."""
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        found = await store.get_evidence(conn, evidence_id=evidence_id)
    if found is None or not caller.can_see(found[0]):
        raise await tenancy.not_found(runtime.pool, caller, f"evidence {evidence_id}",
                                      owner_tenant=found[0] if found else None)
    return found[1]


class AnalyseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)
    known_names: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=20)


def build_router(provider: ScoringProvider) -> APIRouter:
    """The routes, bound to the provider the service was configured with."""
    router = APIRouter(prefix="/v1", tags=["q2q-ai"])
    router.add_api_route("/outcomes", list_outcomes, methods=["GET"])
    router.add_api_route("/outcomes/{score_id}", get_outcome, methods=["GET"])
    router.add_api_route("/evidence/{evidence_id}", get_evidence, methods=["GET"])

    async def analyse(body: AnalyseRequest, caller: Reader) -> dict[str, Any]:
        """Mask and score a text with the configured provider, and show the reasoning. Nothing is
        stored or emitted: this is how to read the model, not a way around the safety gate."""
        if not body.text.strip():
            raise Problem(422, "empty text", "text must contain something other than whitespace")
        masked = domain.mask(body.text, known_names=body.known_names)
        if provider.blocking:
            analysis = await asyncio.to_thread(provider.analyse, masked)
        else:
            analysis = provider.analyse(masked)
        return {
            "model_version": provider.model_version,
            "masked_text": masked,
            "snippets": [{"index": s.index, "text": s.text, "sha256": s.sha256} for s in analysis.snippets],
            "scores": [
                {"dimension": s.dimension.value, "value": s.value, "confidence": s.confidence,
                 "evidence": list(s.evidence), "explanation": list(s.explanation)}
                for s in analysis.scores
            ],
        }

    router.add_api_route("/analyse", analyse, methods=["POST"])
    return router

"""Event handlers of q2q-ai: the safety gate and the scoring it releases.

Consumes: buddy.feedback.submitted.v1, buddy.checkin.completed.v1, kintell.session.completed.v1,
kintell.rating.created.v1 (the texts); safety.text.screened.v1 and safety.review.completed.v1
(the gate). Produces: q2q.outcome.scored.v1, one per scored dimension, and q2q.evidence.recorded.v1,
one per cited snippet, in the batch's transaction.

Facts about one text item arrive in any order. Each handler records its fact on the item's
row (the upsert locks that row until commit, so concurrent consumers and replicas take turns),
then `_settle` asks domain.gate what the item's facts now allow: wait, score, or discard.
Screenings and reviews of one flag also take a transaction-scoped advisory lock on the flag,
so a review and the screening it belongs to always see each other.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from services.q2q_ai import domain, store
from services.q2q_ai.domain import Action
from services.q2q_ai.providers import ScoringProvider
from summit_common import UnitOfWork
from summit_common.consumer import Handler, Incoming, PermanentError
from summit_common.logs import get_logger
from summit_contracts import new_id
from summit_contracts.events.safety import ReviewCompleted, TextScreened

log = get_logger(component="q2q-ai")

SCREENED = "safety.text.screened.v1"
REVIEWED = "safety.review.completed.v1"
OUTCOME_SCORED = "q2q.outcome.scored.v1"
EVIDENCE_RECORDED = "q2q.evidence.recorded.v1"


class Handlers:
    def __init__(self, provider: ScoringProvider) -> None:
        self.provider = provider

    def table(self) -> dict[str, Handler]:
        """Event type -> handler, for Service(handlers=...)."""
        return {**dict.fromkeys(domain.TEXT_SOURCES, self.on_text), SCREENED: self.on_screened, REVIEWED: self.on_review}

    async def on_text(self, event: Incoming, uow: UnitOfWork) -> None:
        item = domain.text_item(event.envelope.type, event.data)
        if item is None:
            return  # no text, or a volunteer's rating: nothing to score
        masked = domain.mask(item.text, known_names=item.known_names)
        row = await store.upsert_text(
            uow.conn, tenant=event.tenant, item_id=new_id(), content_type=item.content_type, content_id=item.content_id,
            participant_system=item.participant.system, participant_id=item.participant.id, masked_text=masked,
            text_sha256=domain.sha256_hex(masked), observed_at=item.observed_at, event_id=event.envelope.id,
        )
        if row is None:
            log.info("text_already_known", content_type=item.content_type, content_id=item.content_id)
            return
        await self._settle(uow, row)

    async def on_screened(self, event: Incoming[TextScreened], uow: UnitOfWork) -> None:
        data = event.data
        review = None
        if data.verdict == "held":
            if not data.flag_id or not data.flag_id.strip():
                raise PermanentError("a held screening must carry the flag_id its review will refer to")
            await store.lock_flag(uow.conn, tenant=event.tenant, flag_id=data.flag_id)
            found = await store.get_review(uow.conn, tenant=event.tenant, flag_id=data.flag_id)
            review = found[1] if found and found[0] == data.content_id else None
        row = await store.upsert_screening(
            uow.conn, tenant=event.tenant, item_id=new_id(), content_type=data.content_type, content_id=data.content_id,
            verdict=data.verdict, flag_id=data.flag_id if data.verdict == "held" else None,
            policy_version=data.policy_version, review_decision=review,
        )
        if row is None:
            log.info("screening_already_known", content_type=data.content_type, content_id=data.content_id)
            return
        await self._settle(uow, row)

    async def on_review(self, event: Incoming[ReviewCompleted], uow: UnitOfWork) -> None:
        data = event.data
        await store.lock_flag(uow.conn, tenant=event.tenant, flag_id=data.flag_id)
        stored = await store.get_review(uow.conn, tenant=event.tenant, flag_id=data.flag_id)
        decision = domain.merge_decision(stored[1] if stored else None, data.decision)
        if stored is not None and decision == stored[1]:
            log.info("review_changes_nothing", flag_id=data.flag_id, decision=data.decision, standing=decision)
            return
        await store.save_review(uow.conn, tenant=event.tenant, flag_id=data.flag_id, content_id=data.content_id,
                                decision=decision, reviewed_at=data.reviewed_at)
        for row in await store.apply_review(uow.conn, tenant=event.tenant, flag_id=data.flag_id,
                                            content_id=data.content_id, decision=decision):
            await self._settle(uow, row)

    async def _settle(self, uow: UnitOfWork, row: store.ItemRow) -> None:
        status, action = domain.gate(row.status, has_text=row.masked_text is not None, verdict=row.verdict,
                                     review=row.review_decision)
        if action is Action.SCORE:
            await self._score(uow, row)
        elif action is Action.DISCARD:
            await store.discard(uow.conn, item_id=row.item_id)
            log.info("text_discarded", content_type=row.content_type, content_id=row.content_id, flag_id=row.flag_id)
        elif status != row.status:
            await store.set_status(uow.conn, item_id=row.item_id, status=status)

    async def _score(self, uow: UnitOfWork, row: store.ItemRow) -> None:
        assert row.masked_text is not None and row.participant_system and row.participant_id and row.observed_at
        provider = self.provider
        if provider.blocking:
            analysis = await asyncio.to_thread(provider.analyse, row.masked_text)
        else:
            analysis = provider.analyse(row.masked_text)
        cited = analysis.cited()
        evidence_ids = {s.index: new_id() for s in cited}
        await store.insert_evidence(uow.conn, tenant=row.tenant, item_id=row.item_id,
                                    snippets=[(evidence_ids[s.index], s.index, s.text, s.sha256) for s in cited])
        scored_at = datetime.now(UTC)
        scores = [
            store.ScoreRow(new_id(), s.dimension.value, s.value, s.confidence,
                           tuple(evidence_ids[i] for i in s.evidence), s.explanation)
            for s in analysis.scores
        ]
        await store.insert_scores(uow.conn, tenant=row.tenant, item=row, scores=scores,
                                  model_version=provider.model_version, scored_at=scored_at)
        await store.mark_scored(uow.conn, item_id=row.item_id, model_version=provider.model_version,
                                scores_count=len(scores))
        for score in scores:
            uow.emit(OUTCOME_SCORED, {
                "score_id": score.score_id,
                "participant": {"system": row.participant_system, "id": row.participant_id},
                "dimension": score.dimension,
                "value": score.value,
                "confidence": score.confidence,
                "evidence_ids": list(score.evidence_ids),
                "source_type": row.content_type,
                "source_id": row.content_id,
                "model_version": provider.model_version,
                "scored_at": scored_at.isoformat(),
                "observed_at": row.observed_at.isoformat(),
            }, subject=score.score_id, tenant=row.tenant)
        participant = {"system": row.participant_system, "id": row.participant_id}
        for snippet in cited:
            evidence_id = evidence_ids[snippet.index]
            uow.emit(EVIDENCE_RECORDED, {
                "evidence_id": evidence_id,
                "participant": participant,
                "program": domain.program_of(row.content_type),
                "snippet": snippet.text,
                "snippet_sha256": snippet.sha256,
                "dimensions": [s.dimension for s in scores if evidence_id in s.evidence_ids],
                "source_type": row.content_type,
                "source_id": row.content_id,
                "observed_at": row.observed_at.isoformat(),
            }, subject=evidence_id, tenant=row.tenant)
        log.info("text_scored", content_type=row.content_type, content_id=row.content_id,
                 dimensions=[s.dimension for s in scores], model_version=provider.model_version)

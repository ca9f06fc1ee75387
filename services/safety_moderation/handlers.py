"""Event handler of safety-moderation: every consumed event's free text is screened.

Consumes: buddy.feedback.submitted.v1 (text), buddy.checkin.completed.v1 (notes),
kintell.session.completed.v1 (notes), kintell.rating.created.v1 (comment).
Produces: safety.text.screened.v1 for every screened record (no text: verdict clear), and
for a text that matched the policy a flag in the review queue plus safety.flag.raised.v1.
All in the batch's transaction (inbox + state + outbox).
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.safety_moderation import domain, policy, store
from summit_common import UnitOfWork
from summit_common.consumer import Incoming
from summit_common.logs import get_logger
from summit_contracts import new_id

log = get_logger(component="safety-moderation")

TEXT_SCREENED = "safety.text.screened.v1"
FLAG_RAISED = "safety.flag.raised.v1"
REVIEW_COMPLETED = "safety.review.completed.v1"
EMITS = (TEXT_SCREENED, FLAG_RAISED, REVIEW_COMPLETED)


async def on_text_event(event: Incoming, uow: UnitOfWork) -> None:
    content_type = event.envelope.type
    content_id, text = domain.content_of(content_type, event.data)
    author = domain.author_of(content_type, event.data)
    holder = policy.holder()
    active = await holder.current()
    result = domain.screen(active, text, context_chars=holder.excerpt_chars)
    now = datetime.now(UTC)
    flag_id = new_id() if result.needs_review else None

    first_time = await store.insert_screening(
        uow.conn, tenant=event.tenant, content_type=content_type, content_id=content_id,
        content_sha256=result.content_sha256, outcome=result.outcome, verdict=result.verdict, flag_id=flag_id,
        policy_version=result.policy_version, event_id=event.envelope.id, screened_at=now, author=author,
    )
    if not first_time:
        # The same text of the same record under another event id (a webhook retry plus a CSV
        # import, a producer's re-publish): it was screened and announced already.
        log.info("screening_duplicate", content_type=content_type, content_id=content_id)
        return

    if flag_id is not None:
        await store.insert_flag(uow.conn, flag_id=flag_id, tenant=event.tenant, content_type=content_type,
                                content_id=content_id, screening=result, created_at=now, author=author)
        primary = result.primary
        assert primary is not None
        uow.emit(FLAG_RAISED, {
            "flag_id": flag_id, "content_type": content_type, "content_id": content_id,
            "category": primary.category, "severity": result.severity, "rule_id": primary.rule_id,
            "excerpt": result.excerpt,
        }, subject=flag_id)
    uow.emit(TEXT_SCREENED, {
        "content_type": content_type, "content_id": content_id, "verdict": result.verdict,
        "flag_id": flag_id if result.verdict == "held" else None,
        "policy_version": result.policy_version, "screened_at": now,
    }, subject=content_id)
    # Ids and rule names only: never the text.
    log.info("text_screened", content_type=content_type, content_id=content_id, outcome=result.outcome,
             severity=result.severity, rules=sorted({m.rule_id for m in result.matches}), flag_id=flag_id,
             policy_version=result.policy_version)

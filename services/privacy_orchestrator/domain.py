"""Pure state transitions of DSAR requests (no I/O; time comes in as `now`).

A request (an export job or a deletion) expects a fixed set of holders. Each holder is
pending (asked, no answer yet), ok, or failed; `exhausted` means no more automatic retries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

EXPORT, DELETION = "export", "deletion"
# Request statuses. Exports: collecting -> complete -> expired; deletions: scheduled ->
# executing -> complete, or scheduled -> cancelled. Either can become partially_failed
# (a holder exhausted its attempts) and go back to collecting/executing on a retry.
COLLECTING, SCHEDULED, EXECUTING = "collecting", "scheduled", "executing"
COMPLETE, PARTIALLY_FAILED, CANCELLED, EXPIRED = "complete", "partially_failed", "cancelled", "expired"
ACTIVE = {EXPORT: COLLECTING, DELETION: EXECUTING}
FINAL = {COMPLETE, CANCELLED, EXPIRED}

HolderStatus = Literal["pending", "ok", "failed"]


@dataclass(frozen=True)
class Holder:
    service: str
    status: HolderStatus
    attempt: int
    requested_at: datetime
    exhausted: bool = False


def apply_answer(holder: Holder, *, status: str, attempt: int, max_attempts: int) -> Holder | None:
    """The holder after an answer, or None when the answer changes nothing (a duplicate,
    or a failure of an older attempt while a newer one is in flight)."""
    if holder.status == "ok":
        return None
    if status == "ok":
        return replace(holder, status="ok", exhausted=False)
    if attempt < holder.attempt or (holder.status == "failed" and attempt == holder.attempt):
        return None
    return replace(holder, status="failed", exhausted=attempt >= max_attempts)


def request_status(kind: str, holders: Iterable[Holder]) -> str:
    """Complete only when every expected holder answered ok; partially failed once one gave up."""
    holders = list(holders)
    if all(h.status == "ok" for h in holders):
        return COMPLETE
    if any(h.exhausted for h in holders):
        return PARTIALLY_FAILED
    return ACTIVE[kind]


def backoff(attempt: int, *, base_seconds: float, max_seconds: float) -> timedelta:
    """How long after asking (attempt n) we wait for an answer or retry a failure: base x 2^(n-1), capped."""
    return timedelta(seconds=min(base_seconds * 2 ** (max(attempt, 1) - 1), max_seconds))


def retry_decision(holder: Holder, now: datetime, *, max_attempts: int, base_seconds: float,
                   max_seconds: float) -> Literal["retry", "give_up"] | None:
    """What the tick does with a holder: ask again, mark it failed for good, or wait."""
    if holder.status == "ok" or holder.exhausted:
        return None
    if now < holder.requested_at + backoff(holder.attempt, base_seconds=base_seconds, max_seconds=max_seconds):
        return None
    return "retry" if holder.attempt < max_attempts else "give_up"


def retried(holder: Holder, now: datetime) -> Holder:
    return replace(holder, status="pending", attempt=holder.attempt + 1, requested_at=now, exhausted=False)


def gave_up(holder: Holder) -> Holder:
    return replace(holder, status="failed", exhausted=True)


def execute_after(now: datetime, window_days: int) -> datetime:
    return now + timedelta(days=window_days)


def deletion_due(status: str, execute_at: datetime, now: datetime) -> bool:
    return status == SCHEDULED and now >= execute_at


def can_cancel(status: str, execute_at: datetime, now: datetime) -> bool:
    """Only while scheduled and inside the window (the window end itself is already too late)."""
    return status == SCHEDULED and now < execute_at


def can_retry(status: str) -> bool:
    return status == PARTIALLY_FAILED


BundleState = Literal["ready", "not_ready", "expired"]


def bundle_state(status: str, expires_at: datetime | None, now: datetime) -> BundleState:
    if status == EXPIRED or (status == COMPLETE and expires_at is not None and now >= expires_at):
        return "expired"
    return "ready" if status == COMPLETE else "not_ready"


def export_expires_at(completed_at: datetime, ttl_days: int) -> datetime:
    return completed_at + timedelta(days=ttl_days)


def build_bundle(job_id: str, subject: Mapping[str, Any], generated_at: datetime,
                 records_by_service: Mapping[str, Any]) -> bytes:
    """The one document the data subject receives: every holder's records about them."""
    return json.dumps({"job_id": job_id, "subject": subject, "generated_at": generated_at.isoformat(),
                       "services": dict(sorted(records_by_service.items()))}, sort_keys=True, default=str).encode()

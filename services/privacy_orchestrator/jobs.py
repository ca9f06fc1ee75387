"""The steps of a DSAR request, shared by the routes, the handlers and the worker tick.

Each function runs inside one unit of work (the caller's transaction) and appends its
audit rows there, so a step and its audit commit together. Logs carry ids only.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag

from services.privacy_orchestrator import config, crypto, domain, store
from services.privacy_orchestrator.domain import DELETION, EXPORT, Holder
from summit_common.logs import get_logger
from summit_common.privacy import DELETION_REQUESTED, EXPORT_REQUESTED, new_keypair, open_sealed
from summit_common.uow import UnitOfWork
from summit_contracts.events.privacy import DataSubject, SealedBox
from summit_contracts.ids import new_id

log = get_logger(component="privacy-orchestrator")
SYSTEM = "system"


def _subject_json(subject: DataSubject) -> bytes:
    return json.dumps(subject.model_dump(mode="json"), sort_keys=True).encode()


def subject_of(request: dict) -> DataSubject:
    raw = crypto.open_subject(config.current().keyring, request["request_id"], request["subject_enc"])
    return DataSubject.model_validate_json(raw)


async def _audit(uow: UnitOfWork, request: dict, step: str, at: datetime, actor: str, **extra: Any) -> None:
    await store.audit(uow.conn, tenant=request["tenant_id"], kind=request["kind"], request_id=request["request_id"],
                      step=step, at=at, actor=actor, **extra)


def _ask(uow: UnitOfWork, request: dict, subject: DataSubject, services: list[str], attempt: int, now: datetime) -> None:
    """Emit the request to `services` (never an empty list: the contract reads that as 'everyone')."""
    assert services
    data: dict[str, Any] = {"subject": subject, "services": services, "attempt": attempt, "requested_at": now}
    if request["kind"] == EXPORT:
        uow.emit(EXPORT_REQUESTED, data | {"job_id": request["request_id"], "reply_public_key": request["public_key"]},
                 subject=request["request_id"], tenant=request["tenant_id"])
    else:
        uow.emit(DELETION_REQUESTED, data | {"request_id": request["request_id"]},
                 subject=request["request_id"], tenant=request["tenant_id"])


# --- exports ----------------------------------------------------------------------------


async def create_export(uow: UnitOfWork, *, tenant: str, actor: str, subject: DataSubject, now: datetime) -> str:
    settings = config.current()
    job_id = new_id()
    holders = list(config.expected_holders())
    private, public = new_keypair()
    request = {"request_id": job_id, "kind": EXPORT, "tenant_id": tenant, "requested_by": actor,
               "status": domain.COLLECTING, "holders": holders,
               "subject_enc": crypto.seal_subject(settings.keyring, job_id, _subject_json(subject)),
               "created_at": now, "fanned_out_at": now, "public_key": public,
               "private_key_enc": crypto.wrap_job_key(settings.keyring, job_id, private)}
    await store.insert_request(uow.conn, **request)
    await store.insert_holders(uow.conn, job_id, holders, now)
    await _audit(uow, request, "requested", now, actor)
    if holders:
        _ask(uow, request, subject, holders, 1, now)
        await _audit(uow, request, "fanned_out", now, actor)
    else:
        await _finish_export(uow, request, now)
    log.info("export_requested", job_id=job_id, holders=len(holders))
    return job_id


async def _finish_export(uow: UnitOfWork, request: dict, now: datetime) -> None:
    """Open every holder's box, build one bundle, encrypt it under a fresh data key, and
    discard what is no longer needed (the job key and the boxes). A box that does not open
    marks its holder failed, so the tick asks it again."""
    settings = config.current()
    job_id = request["request_id"]
    private = crypto.unwrap_job_key(settings.keyring, job_id, request["private_key_enc"])
    records: dict[str, Any] = {}
    for service, box in (await store.sealed_answers(uow.conn, job_id)).items():
        try:
            opened = json.loads(open_sealed(private, SealedBox.model_validate(box)))
            records[service] = opened["records"]
        except (InvalidTag, ValueError, KeyError, TypeError):
            log.warning("export_answer_unreadable", job_id=job_id, service=service)
            holder = next(h for h in await store.holders_of(uow.conn, job_id) if h.service == service)
            failed = domain.Holder(service, "failed", holder.attempt, holder.requested_at,
                                   exhausted=holder.attempt >= settings.max_attempts)
            await store.save_holder(uow.conn, job_id, failed, error="the sealed answer could not be opened")
            await uow.conn.execute("UPDATE holders SET sealed = NULL WHERE request_id = $1 AND service = $2",
                                   job_id, service)
            await _audit(uow, request, "answer_unreadable", now, SYSTEM, service=service, attempt=holder.attempt)
            status = domain.request_status(EXPORT, await store.holders_of(uow.conn, job_id))
            await store.update_request(uow.conn, job_id, status=status)
            return
    subject = json.loads(crypto.open_subject(settings.keyring, job_id, request["subject_enc"]))
    bundle = domain.build_bundle(job_id, subject, now, records)
    ciphertext, wrapped_key, digest = crypto.encrypt_bundle(settings.keyring, job_id, bundle)
    await store.update_request(
        uow.conn, job_id, status=domain.COMPLETE, completed_at=now, bundle_enc=ciphertext, bundle_key_enc=wrapped_key,
        bundle_sha256=digest, bundle_bytes=len(bundle), private_key_enc=None,
        expires_at=domain.export_expires_at(now, settings.export_ttl_days))
    await store.discard_sealed(uow.conn, job_id)
    await _audit(uow, request, "completed", now, SYSTEM)
    log.info("export_completed", job_id=job_id)


async def record_answer(uow: UnitOfWork, *, kind: str, tenant: str, request_id: str, service: str, status: str,
                        attempt: int, counts: dict[str, int], error: str | None, sealed: dict | None,
                        now: datetime) -> None:
    """Apply one holder's answer (export) or confirmation (deletion). Duplicates change nothing."""
    request = await store.get_request(uow.conn, request_id, kind, lock=True)
    if request is None or request["tenant_id"] != tenant:
        log.warning("answer_for_unknown_request", kind=kind, request_id=request_id, service=service)
        return
    if request["status"] in domain.FINAL:
        return
    holder = next((h for h in await store.holders_of(uow.conn, request_id) if h.service == service), None)
    if holder is None:
        log.warning("answer_from_unexpected_holder", kind=kind, request_id=request_id, service=service)
        return
    settings = config.current()
    updated = domain.apply_answer(holder, status=status, attempt=attempt, max_attempts=settings.max_attempts)
    if updated is None:
        return
    await store.save_holder(uow.conn, request_id, updated, answered_at=now, counts=counts, error=error,
                            sealed=sealed if status == "ok" else None)
    step = ("answered" if kind == EXPORT else "confirmed") if status == "ok" else "answer_failed"
    await _audit(uow, request, step, now, service, service=service, attempt=attempt)
    if updated.exhausted:
        await _audit(uow, request, "gave_up", now, SYSTEM, service=service, attempt=attempt)
    new_status = domain.request_status(kind, await store.holders_of(uow.conn, request_id))
    if new_status == domain.COMPLETE and kind == EXPORT:
        await _finish_export(uow, request, now)
    elif new_status == domain.COMPLETE:
        # The subject is no longer needed once every holder erased it.
        await store.update_request(uow.conn, request_id, status=new_status, completed_at=now, subject_enc=None)
        await _audit(uow, request, "completed", now, SYSTEM)
        log.info("deletion_completed", request_id=request_id)
    elif new_status != request["status"]:
        await store.update_request(uow.conn, request_id, status=new_status)


# --- deletions --------------------------------------------------------------------------


async def create_deletion(uow: UnitOfWork, *, tenant: str, actor: str, subject: DataSubject, window_days: int,
                          now: datetime) -> str:
    settings = config.current()
    request_id = new_id()
    request = {"request_id": request_id, "kind": DELETION, "tenant_id": tenant, "requested_by": actor,
               "status": domain.SCHEDULED, "holders": list(config.expected_holders()),
               "subject_enc": crypto.seal_subject(settings.keyring, request_id, _subject_json(subject)),
               "created_at": now, "window_days": window_days, "execute_after": domain.execute_after(now, window_days)}
    await store.insert_request(uow.conn, **request)
    await _audit(uow, request, "requested", now, actor)
    log.info("deletion_scheduled", request_id=request_id, window_days=window_days)
    return request_id


async def cancel_deletion(uow: UnitOfWork, request: dict, *, actor: str, now: datetime) -> None:
    await store.update_request(uow.conn, request["request_id"], status=domain.CANCELLED, cancelled_at=now,
                               subject_enc=None)
    await _audit(uow, request, "cancelled", now, actor)


async def fan_out_deletion(uow: UnitOfWork, request: dict, now: datetime) -> None:
    holders = list(request["holders"])
    await store.insert_holders(uow.conn, request["request_id"], holders, now)
    if not holders:
        await store.update_request(uow.conn, request["request_id"], status=domain.COMPLETE, fanned_out_at=now,
                                   completed_at=now, subject_enc=None)
        await _audit(uow, request, "completed", now, SYSTEM)
        return
    _ask(uow, request, subject_of(request), holders, 1, now)
    await store.update_request(uow.conn, request["request_id"], status=domain.EXECUTING, fanned_out_at=now)
    await _audit(uow, request, "fanned_out", now, SYSTEM)
    log.info("deletion_fanned_out", request_id=request["request_id"], holders=len(holders))


# --- retries (both kinds) ---------------------------------------------------------------


async def ask_again(uow: UnitOfWork, request: dict, holders: list[Holder], *, actor: str, now: datetime) -> None:
    """Ask these holders once more (attempt + 1), one event each since attempts can differ."""
    subject = subject_of(request)
    for holder in holders:
        again = domain.retried(holder, now)
        await store.save_holder(uow.conn, request["request_id"], again)
        _ask(uow, request, subject, [holder.service], again.attempt, now)
        await _audit(uow, request, "retried", now, actor, service=holder.service, attempt=again.attempt)
    await store.update_request(uow.conn, request["request_id"], status=domain.ACTIVE[request["kind"]])


async def retry_open_holders(uow: UnitOfWork, request: dict, now: datetime) -> int:
    """The tick's retry step for one active request: re-ask late or failed holders after
    their backoff, or give up on those out of attempts. Returns how many holders changed."""
    s = config.current()
    holders = await store.holders_of(uow.conn, request["request_id"])
    decisions = {h.service: domain.retry_decision(h, now, max_attempts=s.max_attempts, base_seconds=s.retry_base_seconds,
                                                  max_seconds=s.retry_max_seconds) for h in holders}
    to_retry = [h for h in holders if decisions[h.service] == "retry"]
    for holder in (h for h in holders if decisions[h.service] == "give_up"):
        await store.save_holder(uow.conn, request["request_id"], domain.gave_up(holder),
                                error=None if holder.status == "failed" else "no answer")
        await _audit(uow, request, "gave_up", now, SYSTEM, service=holder.service, attempt=holder.attempt)
    if to_retry:
        await ask_again(uow, request, to_retry, actor=SYSTEM, now=now)
    new_status = domain.request_status(request["kind"], await store.holders_of(uow.conn, request["request_id"]))
    if new_status != domain.COMPLETE:
        await store.update_request(uow.conn, request["request_id"], status=new_status)
    return len(to_retry) + sum(1 for d in decisions.values() if d == "give_up")


async def expire_bundle(uow: UnitOfWork, request: dict, now: datetime) -> None:
    await store.update_request(uow.conn, request["request_id"], status=domain.EXPIRED, expired_at=now,
                               bundle_enc=None, bundle_key_enc=None, subject_enc=None)
    await _audit(uow, request, "expired", now, SYSTEM)
    log.info("export_expired", job_id=request["request_id"])

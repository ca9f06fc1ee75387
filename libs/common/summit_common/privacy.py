"""One standard way for a service to declare the personal data it holds and to answer
data-subject requests (DSAR export and erasure) fanned out by privacy-orchestrator.

A service declares `Service(..., personal_data=PersonalData(categories=..., export=..., erase=...))`.
The chassis then consumes `privacy.export.requested.v1` and `privacy.deletion.requested.v1`,
runs the service's functions in the batch transaction (inside a savepoint, so a failure is
answered as `failed` instead of aborting the batch), and emits the answer through the outbox.
Export answers are sealed to the job's public key: personal data never crosses the bus in clear.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from summit_common import erasure
from summit_common.consumer import TRANSIENT_ERRORS, Handler, Incoming
from summit_common.logs import get_logger
from summit_common.uow import UnitOfWork
from summit_contracts.events.privacy import DataSubject, DeletionRequested, ExportRequested, SealedBox

EXPORT_REQUESTED = "privacy.export.requested.v1"
EXPORT_ANSWERED = "privacy.export.answered.v1"
DELETION_REQUESTED = "privacy.deletion.requested.v1"
DELETION_CONFIRMED = "privacy.deletion.confirmed.v1"
# A sealed answer must fit one NATS message (1 MiB by default) with its envelope around it.
MAX_SEALED_BYTES = 700_000

Exporter = Callable[[asyncpg.Connection, str, DataSubject], Awaitable[Mapping[str, list[dict[str, Any]]]]]
Eraser = Callable[[asyncpg.Connection, str, DataSubject], Awaitable[Mapping[str, int]]]
log = get_logger(component="privacy")


@dataclass(frozen=True)
class PersonalData:
    """The personal data a service holds, by category, and how to export and erase it.

    `export(conn, tenant, subject)` returns {category: [record, ...]} (JSON-serialisable).
    `erase(conn, tenant, subject)` deletes or anonymises and returns {category: count}.
    Both run inside the chassis transaction; they must not commit. Erase must be idempotent.
    """

    categories: Mapping[str, str]  # category -> what it holds, for the service README and the catalogue
    export: Exporter
    erase: Eraser

    def __post_init__(self) -> None:
        if not self.categories:
            raise ValueError("declare at least one personal-data category")


def subject_refs(subject: DataSubject) -> tuple[list[str], list[str]]:
    """(systems, ids) as two parallel arrays, for `WHERE (system, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`."""
    return [r.system for r in subject.refs], [r.id for r in subject.refs]


# --- sealing: X25519 ECDH + HKDF-SHA256 + AES-256-GCM (an ECIES "sealed box") -------------

_INFO = b"summit-dsar-v1"


def new_keypair() -> tuple[bytes, str]:
    """(private key bytes, base64 public key) for one job."""
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return raw, base64.b64encode(public).decode()


def _derive(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral_public + recipient_public, info=_INFO).derive(shared)


def seal(recipient_public_b64: str, plaintext: bytes) -> SealedBox:
    recipient_public = base64.b64decode(recipient_public_b64, validate=True)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = _derive(ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public)), ephemeral_public, recipient_public)
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _INFO)
    b64 = base64.b64encode
    return SealedBox(ephemeral_public_key=b64(ephemeral_public).decode(), nonce=b64(nonce).decode(), ciphertext=b64(ciphertext).decode())


def open_sealed(private_key: bytes, box: SealedBox) -> bytes:
    """Raises cryptography.exceptions.InvalidTag if the box was not sealed to this key or was altered."""
    private = X25519PrivateKey.from_private_bytes(private_key)
    recipient_public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ephemeral_public = base64.b64decode(box.ephemeral_public_key)
    key = _derive(private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public)), ephemeral_public, recipient_public)
    return AESGCM(key).decrypt(base64.b64decode(box.nonce), base64.b64decode(box.ciphertext), _INFO)


# --- the handlers the chassis adds to a service that declares personal data ----------------


def _now() -> datetime:
    return datetime.now(UTC)


def _addressed_to(service: str, services: tuple[str, ...]) -> bool:
    return not services or service in services


def _failure(exc: BaseException) -> str:
    # The class name only: driver messages can quote the values (personal data) that failed.
    return f"{type(exc).__name__} in the service's privacy handler"


def handlers_for(service: str, personal_data: PersonalData) -> dict[str, Handler]:
    async def on_export_requested(event: Incoming[ExportRequested], uow: UnitOfWork) -> None:
        request = event.data
        if not _addressed_to(service, request.services):
            return
        answer: dict[str, Any] = {"job_id": request.job_id, "service": service, "attempt": request.attempt}
        try:
            async with uow.conn.transaction():  # a savepoint: a failure leaves the batch usable
                records = await personal_data.export(uow.conn, event.tenant, request.subject)
            body = json.dumps({"service": service, "records": records}, default=str, sort_keys=True).encode()
            sealed = seal(request.reply_public_key, body)
            if len(sealed.ciphertext) > MAX_SEALED_BYTES:
                raise OverflowError("export larger than one message")
            answer |= {"status": "ok", "sealed": sealed, "record_counts": {k: len(v) for k, v in records.items()}}
        except TRANSIENT_ERRORS:
            raise  # the chassis retries the event
        except Exception as exc:  # noqa: BLE001  answered as failed; the orchestrator retries
            log.warning("privacy_export_failed", job_id=request.job_id, error=type(exc).__name__)
            answer |= {"status": "failed", "error": _failure(exc)}
        uow.emit(EXPORT_ANSWERED, answer | {"answered_at": _now()}, subject=request.job_id)

    async def on_deletion_requested(event: Incoming[DeletionRequested], uow: UnitOfWork) -> None:
        request = event.data
        if not _addressed_to(service, request.services):
            return
        answer: dict[str, Any] = {"request_id": request.request_id, "service": service, "attempt": request.attempt}
        try:
            async with uow.conn.transaction():
                counts = await personal_data.erase(uow.conn, event.tenant, request.subject)
                # Events about them created until now (late, or replayed from the DLQ) are skipped.
                await erasure.record(uow.conn, event.tenant, [(r.system, r.id) for r in request.subject.refs], _now())
            answer |= {"status": "ok", "deleted_counts": dict(counts)}
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:  # noqa: BLE001
            log.warning("privacy_erase_failed", request_id=request.request_id, error=type(exc).__name__)
            answer |= {"status": "failed", "error": _failure(exc)}
        uow.emit(DELETION_CONFIRMED, answer | {"confirmed_at": _now()}, subject=request.request_id)

    return {EXPORT_REQUESTED: on_export_requested, DELETION_REQUESTED: on_deletion_requested}


HANDLED = (EXPORT_REQUESTED, DELETION_REQUESTED)
PRIVACY_EMITS = (EXPORT_ANSWERED, DELETION_CONFIRMED)

"""Envelope encryption with AES-256-GCM (no I/O).

The master key (KEK) wraps: each export job's X25519 private key, each bundle's data key,
and each stored subject. Every blob is nonce (12 bytes) || ciphertext+tag, bound to its
purpose and request id by the associated data, so a blob cannot be swapped between rows.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


def wrap(key: bytes, plaintext: bytes, *, context: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def unwrap(key: bytes, blob: bytes, *, context: str) -> bytes:
    """Raises cryptography.exceptions.InvalidTag for a wrong key, context or altered blob."""
    return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())


def seal_subject(kek: bytes, request_id: str, subject_json: bytes) -> bytes:
    return wrap(kek, subject_json, context=f"subject:{request_id}")


def open_subject(kek: bytes, request_id: str, blob: bytes) -> bytes:
    return unwrap(kek, blob, context=f"subject:{request_id}")


def wrap_job_key(kek: bytes, job_id: str, private_key: bytes) -> bytes:
    return wrap(kek, private_key, context=f"job-key:{job_id}")


def unwrap_job_key(kek: bytes, job_id: str, blob: bytes) -> bytes:
    return unwrap(kek, blob, context=f"job-key:{job_id}")


def encrypt_bundle(kek: bytes, job_id: str, bundle: bytes) -> tuple[bytes, bytes, str]:
    """(ciphertext, wrapped data key, sha256 hex of the plaintext) under a fresh per-job data key."""
    data_key = AESGCM.generate_key(bit_length=256)
    ciphertext = wrap(data_key, bundle, context=f"bundle:{job_id}")
    return ciphertext, wrap(kek, data_key, context=f"bundle-key:{job_id}"), hashlib.sha256(bundle).hexdigest()


def decrypt_bundle(kek: bytes, job_id: str, ciphertext: bytes, wrapped_key: bytes) -> bytes:
    data_key = unwrap(kek, wrapped_key, context=f"bundle-key:{job_id}")
    return unwrap(data_key, ciphertext, context=f"bundle:{job_id}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

"""Envelope encryption with AES-256-GCM (no I/O).

The master key (KEK) wraps: each export job's X25519 private key, each bundle's data key,
and each stored subject. Every blob is nonce (12 bytes) || ciphertext+tag, bound to its
purpose and request id by the associated data, so a blob cannot be swapped between rows.
Blobs wrapped by a KEK start with the KEK's id (4 bytes of its SHA-256), so the key can be
rotated: the new key wraps, the previous ones (PRIVACY_PREVIOUS_MASTER_KEYS) still unwrap.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_ID_BYTES = 4


class UnknownKeyError(LookupError):
    """A blob was wrapped by a master key that is no longer configured."""


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:KEY_ID_BYTES]


class Keyring:
    """The current master key (wraps) and the previous ones (only unwrap)."""

    def __init__(self, current: bytes, previous: Iterable[bytes] = ()) -> None:
        self.current = current
        self._by_id = {key_id(k): k for k in (*previous, current)}

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        return key_id(self.current) + wrap(self.current, plaintext, context=context)

    def open(self, blob: bytes, *, context: str) -> bytes:
        key = self._by_id.get(blob[:KEY_ID_BYTES])
        if key is None:
            raise UnknownKeyError("wrapped by a master key that is not configured (see PRIVACY_PREVIOUS_MASTER_KEYS)")
        return unwrap(key, blob[KEY_ID_BYTES:], context=context)


def wrap(key: bytes, plaintext: bytes, *, context: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def unwrap(key: bytes, blob: bytes, *, context: str) -> bytes:
    """Raises cryptography.exceptions.InvalidTag for a wrong key, context or altered blob."""
    return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())


def seal_subject(ring: Keyring, request_id: str, subject_json: bytes) -> bytes:
    return ring.seal(subject_json, context=f"subject:{request_id}")


def open_subject(ring: Keyring, request_id: str, blob: bytes) -> bytes:
    return ring.open(blob, context=f"subject:{request_id}")


def wrap_job_key(ring: Keyring, job_id: str, private_key: bytes) -> bytes:
    return ring.seal(private_key, context=f"job-key:{job_id}")


def unwrap_job_key(ring: Keyring, job_id: str, blob: bytes) -> bytes:
    return ring.open(blob, context=f"job-key:{job_id}")


def encrypt_bundle(ring: Keyring, job_id: str, bundle: bytes) -> tuple[bytes, bytes, str]:
    """(ciphertext, wrapped data key, sha256 hex of the plaintext) under a fresh per-job data key."""
    data_key = AESGCM.generate_key(bit_length=256)
    ciphertext = wrap(data_key, bundle, context=f"bundle:{job_id}")
    return ciphertext, ring.seal(data_key, context=f"bundle-key:{job_id}"), hashlib.sha256(bundle).hexdigest()


def decrypt_bundle(ring: Keyring, job_id: str, ciphertext: bytes, wrapped_key: bytes) -> bytes:
    data_key = ring.open(wrapped_key, context=f"bundle-key:{job_id}")
    return unwrap(data_key, ciphertext, context=f"bundle:{job_id}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

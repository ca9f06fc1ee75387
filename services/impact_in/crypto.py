"""Partner secrets at rest: AES-256-GCM, key derived (HKDF-SHA256) from IMPACT_IN_SECRET_KEY, a random
96-bit nonce per value, and the (tenant, platform) as associated data so a ciphertext cannot
be moved to another connection."""

from __future__ import annotations

import json
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"


class SecretBox:
    def __init__(self, key_material: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"impact-in connection secrets v1")
        self._aead = AESGCM(key.derive(key_material.encode()))

    def seal(self, secrets: dict[str, str], *, tenant: str, platform: str) -> bytes:
        nonce = os.urandom(12)
        aad = f"{tenant}\x1f{platform}".encode()
        return _VERSION + nonce + self._aead.encrypt(nonce, json.dumps(secrets).encode(), aad)

    def open_or_empty(self, blob: bytes, *, tenant: str, platform: str) -> dict[str, str]:
        """For display and updates: a value sealed under another key reads as no secrets."""
        try:
            return self.open(blob, tenant=tenant, platform=platform)
        except Exception:  # noqa: BLE001 - InvalidTag / format: the caller re-enters the secrets
            return {}

    def open(self, blob: bytes, *, tenant: str, platform: str) -> dict[str, str]:
        if blob[:1] != _VERSION:
            raise ValueError("unknown secret format")
        aad = f"{tenant}\x1f{platform}".encode()
        return json.loads(self._aead.decrypt(blob[1:13], blob[13:], aad))


def mask(value: str | None) -> str | None:
    """What GET shows of a secret: that it is set, never any of it."""
    return None if not value else "********"

"""Benevity webhook signatures (HMAC-SHA256 over "<t>.<raw body>", Stripe-style header)
and the WS-Security UsernameToken password digest (OASIS UsernameToken Profile 1.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime


class SignatureError(ValueError):
    """The webhook is not authentic (missing, malformed, wrong or too old signature)."""


def sign_benevity(secret: str, timestamp: int, raw_body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def parse_signature_header(header: str | None) -> tuple[int, list[str]]:
    if not header:
        raise SignatureError("missing X-Benevity-Signature")
    timestamp, macs = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            macs.append(value)
    if timestamp is None or not macs:
        raise SignatureError("malformed X-Benevity-Signature (expected t=<unix>,v1=<hex>)")
    return timestamp, macs


def verify_benevity(secret: str, header: str | None, raw_body: bytes, *, now: datetime, tolerance_seconds: int) -> int:
    """Check the signature (timing-safe) and its age; returns the signed timestamp.
    Several v1 values are accepted so a partner can roll its secret."""
    timestamp, macs = parse_signature_header(header)
    expected = sign_benevity(secret, timestamp, raw_body).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected.encode(), mac.encode()) for mac in macs):
        raise SignatureError("signature does not match")
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise SignatureError("signature timestamp outside the tolerance")
    return timestamp


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """Base64(SHA-1(nonce + created + password)), nonce as raw bytes."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()

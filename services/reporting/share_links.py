"""Share-link tokens: `<payload>.<signature>`, both base64url. The payload holds only an
opaque link id and the expiry (unix seconds): no tenant, report or person in the URL.
The signature is HMAC-SHA256 with REPORTING_SHARE_LINK_SECRET. Pure functions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime


class BadToken(Exception):
    """Malformed or wrongly signed token."""


@dataclass(frozen=True)
class Claims:
    link_id: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()


def sign(secret: str, link_id: str, expires_at: datetime) -> str:
    payload = _b64(json.dumps({"l": link_id, "e": int(expires_at.timestamp())}, separators=(",", ":")).encode())
    return f"{payload}.{_b64(_mac(secret, payload))}"


def verify(secret: str, token: str) -> Claims:
    """The claims of a correctly signed token (expiry is checked by the caller, with its clock)."""
    payload, _, signature = token.partition(".")
    try:
        good = hmac.compare_digest(_unb64(signature), _mac(secret, payload))
    except ValueError:
        raise BadToken("malformed token") from None
    if not payload or not good:
        raise BadToken("bad signature")
    try:
        data = json.loads(_unb64(payload))
        return Claims(link_id=str(data["l"]), expires_at=datetime.fromtimestamp(int(data["e"]), UTC))
    except (ValueError, KeyError, TypeError):
        raise BadToken("malformed token") from None


def client_hash(secret: str, address: str | None) -> str:
    """A keyed hash of the client address for the access log (no raw IP stored)."""
    return hmac.new(secret.encode(), (address or "").encode(), hashlib.sha256).hexdigest()[:32]

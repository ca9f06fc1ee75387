"""What every connector shares: the decrypted connection, the result, the error taxonomy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Connection:
    tenant: str
    platform: str
    settings: dict[str, Any]
    secrets: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class Sent:
    status_code: int
    reference: str | None = None
    replayed: bool = False  # the partner answered from its idempotency store


class DeliveryError(Exception):
    """A failed push. `retryable`: the platform (or the network) failed, try again later and
    count it against the breaker; otherwise our request or credentials are wrong."""

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status_code = status_code


def retryable_status(status: int) -> bool:
    return status >= 500 or status in (408, 425, 429)


def error_for(response: httpx.Response, what: str) -> DeliveryError:
    """Only the status and a short, secret-free reason are kept (bodies may echo data back)."""
    return DeliveryError(f"{what} answered {response.status_code}", retryable=retryable_status(response.status_code),
                         status_code=response.status_code)


def network_error(exc: Exception, what: str) -> DeliveryError:
    return DeliveryError(f"{what} unreachable: {type(exc).__name__}", retryable=True)

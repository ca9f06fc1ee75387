"""HTTP clients of the partner platforms. Each `send` returns a `Sent` or raises `DeliveryError`."""

from __future__ import annotations

from services.impact_in.connectors import benevity, goodera, workday
from services.impact_in.connectors.base import Connection, DeliveryError, Sent

SENDERS = {"benevity": benevity.send, "goodera": goodera.send, "workday": workday.send}

__all__ = ["SENDERS", "Connection", "DeliveryError", "Sent"]

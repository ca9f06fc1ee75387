"""Benevity: REST + JSON, `Authorization: Bearer <api key>`, `Idempotency-Key` on every push
(a retried or replayed push under the same key is answered from Benevity's idempotency store)."""

from __future__ import annotations

from typing import Any

import httpx

from services.impact_in.connectors.base import Connection, DeliveryError, Sent, error_for, network_error

PATH = "/v1/impact-metrics"


async def send(http: httpx.AsyncClient, conn: Connection, payload: dict[str, Any], key: str, ctx) -> Sent:
    url = conn.settings["base_url"].rstrip("/") + PATH
    headers = {"Authorization": f"Bearer {conn.secrets['api_key']}", "Idempotency-Key": key}
    try:
        response = await http.post(url, json=payload, headers=headers)
    except httpx.HTTPError as exc:
        raise network_error(exc, "benevity") from None
    if response.status_code not in (200, 201, 202):
        raise error_for(response, "benevity")
    try:
        reference = response.json().get("id")
    except ValueError:
        raise DeliveryError("benevity answered a non-JSON body", retryable=True, status_code=response.status_code) from None
    return Sent(response.status_code, reference, replayed=response.headers.get("Idempotent-Replayed") == "true")

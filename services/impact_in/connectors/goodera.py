"""Goodera: OAuth2 client credentials (RFC 6749 4.4; client auth by HTTP Basic, form body).
The token is cached per (tenant, token URL, client id) until `expires_in - skew`, so it is
refreshed before it expires; the token endpoint is retried with backoff on 5xx and network
errors; a 401 from the API drops the cached token and refetches it once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from services.impact_in.connectors.base import (
    Connection,
    DeliveryError,
    Sent,
    error_for,
    network_error,
    retryable_status,
)

PATH = "/api/v1/impact-data"


def _cache_key(conn: Connection) -> tuple[str, str, str]:
    return (conn.tenant, conn.settings["token_url"], conn.settings["client_id"])


async def fetch_token(http: httpx.AsyncClient, conn: Connection, ctx) -> str:
    settings = ctx.settings
    form = {"grant_type": "client_credentials"}
    if conn.settings.get("scope"):
        form["scope"] = conn.settings["scope"]
    auth = httpx.BasicAuth(conn.settings["client_id"], conn.secrets["client_secret"])
    last: DeliveryError | None = None
    for attempt in range(settings.token_attempts):
        if attempt:
            await ctx.sleep(settings.token_backoff_seconds * 2 ** (attempt - 1))
        try:
            response = await http.post(conn.settings["token_url"], data=form, auth=auth)
        except httpx.HTTPError as exc:
            last = network_error(exc, "goodera token endpoint")
            continue
        if response.status_code == 200:
            try:
                body = response.json()
                token, expires_in = str(body["access_token"]), float(body.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError):
                raise DeliveryError("goodera token endpoint answered an invalid token response", retryable=True) from None
            lifetime = max(expires_in - settings.token_skew_seconds, 0)
            ctx.tokens[_cache_key(conn)] = (token, ctx.clock() + timedelta(seconds=lifetime))
            return token
        last = error_for(response, "goodera token endpoint")
        if not retryable_status(response.status_code):
            raise last  # invalid_client and the like: retrying cannot help
    assert last is not None
    raise last


async def token(http: httpx.AsyncClient, conn: Connection, ctx) -> str:
    cached = ctx.tokens.get(_cache_key(conn))
    if cached is not None and ctx.clock() < cached[1]:
        return cached[0]
    return await fetch_token(http, conn, ctx)


async def send(http: httpx.AsyncClient, conn: Connection, payload: dict[str, Any], key: str, ctx) -> Sent:
    url = conn.settings["base_url"].rstrip("/") + PATH
    for refetched in (False, True):
        bearer = await (fetch_token(http, conn, ctx) if refetched else token(http, conn, ctx))
        try:
            response = await http.post(url, json=payload, headers={"Authorization": f"Bearer {bearer}"})
        except httpx.HTTPError as exc:
            raise network_error(exc, "goodera") from None
        if response.status_code == 401 and not refetched:
            ctx.tokens.pop(_cache_key(conn), None)  # revoked or expired early: one fresh token
            continue
        break
    if response.status_code not in (200, 201, 202):
        raise error_for(response, "goodera")
    try:
        reference = response.json().get("id")
    except ValueError:
        reference = None
    return Sent(response.status_code, reference)

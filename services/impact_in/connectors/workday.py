"""Workday: SOAP 1.1 with a WS-Security UsernameToken (PasswordDigest, fresh nonce and
Created per request) against the tenant's own endpoint
`<base_url>/ccx/service/<workday_tenant>/<service_path>`. SOAP faults become DeliveryErrors:
Client/authentication faults are not retried, Server faults are."""

from __future__ import annotations

from typing import Any

import httpx

from services.impact_in.connectors.base import Connection, DeliveryError, Sent, network_error, retryable_status
from services.impact_in.domain import soap

DEFAULT_SERVICE_PATH = "Resource_Management/v40.0"


def endpoint(settings: dict[str, Any]) -> str:
    path = (settings.get("service_path") or DEFAULT_SERVICE_PATH).strip("/")
    return f"{settings['base_url'].rstrip('/')}/ccx/service/{settings['workday_tenant']}/{path}"


async def send(http: httpx.AsyncClient, conn: Connection, payload: dict[str, Any], key: str, ctx) -> Sent:
    created = ctx.clock().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    body = soap.build_envelope(payload, username=conn.settings["username"], password=conn.secrets["password"],
                               nonce=ctx.random_bytes(16), created=created)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{soap.OPERATION}"'}
    try:
        response = await http.post(endpoint(conn.settings), content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise network_error(exc, "workday") from None
    try:
        fields = soap.parse_response(response.content)
    except soap.SoapFault as fault:
        raise DeliveryError(f"workday fault {fault.code}: {fault.message}"[:300], retryable=not fault.is_client_fault,
                            status_code=response.status_code) from None
    except ValueError:
        raise DeliveryError(f"workday answered {response.status_code} without a SOAP envelope",
                            retryable=retryable_status(response.status_code), status_code=response.status_code) from None
    if response.status_code != 200:
        raise DeliveryError(f"workday answered {response.status_code}", retryable=retryable_status(response.status_code),
                            status_code=response.status_code)
    return Sent(200, fields.get("ID") or fields.get("Reference_ID"))

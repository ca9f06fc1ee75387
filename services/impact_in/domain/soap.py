"""SOAP 1.1 envelopes for Workday with a WS-Security UsernameToken (PasswordDigest), and
fault parsing. Pure: nonce and creation time are passed in."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from services.impact_in.domain.signatures import password_digest

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
BSVC_NS = "urn:com.workday/bsvc"
PASSWORD_DIGEST = ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
                   "#PasswordDigest")
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
OPERATION = "Put_Impact_Metrics_Request"

for prefix, ns in (("soapenv", SOAP_NS), ("wsse", WSSE_NS), ("wsu", WSU_NS), ("bsvc", BSVC_NS)):
    ET.register_namespace(prefix, ns)


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


@dataclass(frozen=True)
class SoapFault(Exception):
    code: str
    message: str

    @property
    def is_client_fault(self) -> bool:
        """Our request or credentials are wrong: retrying the same request cannot help."""
        local = self.code.split(":")[-1]
        return local in {"Client", "FailedAuthentication", "InvalidSecurityToken", "InvalidSecurity", "MessageExpired"} \
            or "Validation" in local


def build_envelope(fields: dict[str, Any], *, username: str, password: str, nonce: bytes, created: str,
                   version: str = "v40.0") -> bytes:
    envelope = ET.Element(_q(SOAP_NS, "Envelope"))
    header = ET.SubElement(envelope, _q(SOAP_NS, "Header"))
    security = ET.SubElement(header, _q(WSSE_NS, "Security"), {_q(SOAP_NS, "mustUnderstand"): "1"})
    token = ET.SubElement(security, _q(WSSE_NS, "UsernameToken"))
    ET.SubElement(token, _q(WSSE_NS, "Username")).text = username
    ET.SubElement(token, _q(WSSE_NS, "Password"), {"Type": PASSWORD_DIGEST}).text = password_digest(nonce, created, password)
    ET.SubElement(token, _q(WSSE_NS, "Nonce"), {"EncodingType": BASE64_BINARY}).text = base64.b64encode(nonce).decode()
    ET.SubElement(token, _q(WSU_NS, "Created")).text = created
    body = ET.SubElement(envelope, _q(SOAP_NS, "Body"))
    request = ET.SubElement(body, _q(BSVC_NS, OPERATION), {_q(BSVC_NS, "version"): version})
    data = ET.SubElement(request, _q(BSVC_NS, "Impact_Metrics_Data"))
    for name, value in fields.items():
        if value is not None:
            ET.SubElement(data, _q(BSVC_NS, name)).text = str(value)
    return ET.tostring(envelope, encoding="utf-8", xml_declaration=True)


def parse_response(xml: bytes) -> dict[str, str]:
    """The response body's leaf values; raises SoapFault for a Fault, ValueError for non-SOAP."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from None
    body = root.find(_q(SOAP_NS, "Body"))
    if root.tag != _q(SOAP_NS, "Envelope") or body is None:
        raise ValueError("not a SOAP 1.1 envelope")
    fault = body.find(_q(SOAP_NS, "Fault"))
    if fault is not None:
        raise SoapFault(code=(fault.findtext("faultcode") or "").strip(), message=(fault.findtext("faultstring") or "").strip())
    return {el.tag.split("}")[-1]: (el.text or "").strip() for el in body.iter() if len(el) == 0}

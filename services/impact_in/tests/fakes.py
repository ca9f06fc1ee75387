"""Local fake partner servers (real HTTP over 127.0.0.1 sockets, served by uvicorn).

They check what the real platforms check: Benevity the API key and the Idempotency-Key
(a repeated key is answered from the store, recorded once; reused with another body: 422);
Goodera HTTP Basic client auth, the grant type, form encoding, and that bearer tokens are
ones it issued and that have not expired; Workday the SOAP envelope, the WS-Security
UsernameToken digest, nonce reuse and the age of Created. They are written independently
of the service's code (own namespace constants, own digest), so a shared bug cannot hide.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import socket
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


class Served:
    """Serve an ASGI app on a free 127.0.0.1 port in this event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
        self.server.install_signal_handlers = lambda: None
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await asyncio.wait([self.task], timeout=5)
        self.sock.close()


# -- Benevity ------------------------------------------------------------------------------

@dataclass
class FakeBenevity:
    api_key: str = "bnv-live-key"
    fail_with: int | None = None                          # answer every push with this status
    requests: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)   # what Benevity recorded
    _by_key: dict[str, tuple[str, dict]] = field(default_factory=dict)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/impact-metrics")
        async def push(request: Request):
            raw = await request.body()
            key = request.headers.get("idempotency-key")
            self.requests.append({"key": key, "authorization": request.headers.get("authorization")})
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            if not key or len(key) > 255:
                return JSONResponse({"error": "Idempotency-Key header required"}, status_code=400)
            if not request.headers.get("content-type", "").startswith("application/json"):
                return JSONResponse({"error": "JSON required"}, status_code=415)
            if self.fail_with:
                return JSONResponse({"error": "unavailable"}, status_code=self.fail_with)
            digest = hashlib.sha256(raw).hexdigest()
            if key in self._by_key:
                seen_digest, response = self._by_key[key]
                if seen_digest != digest:
                    return JSONResponse({"error": "Idempotency-Key reused with a different body"}, status_code=422)
                return JSONResponse(response, status_code=201, headers={"Idempotent-Replayed": "true"})
            body = json.loads(raw)
            if not {"externalReference", "companyId", "reportingPeriod", "metrics"} <= body.keys():
                return JSONResponse({"error": "missing fields"}, status_code=400)
            response = {"id": f"bnv_{len(self.deliveries) + 1}", "status": "received"}
            self.deliveries.append(body)
            self._by_key[key] = (digest, response)
            return JSONResponse(response, status_code=201)

        return app


def benevity_signature(secret: str, raw: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1=" + hmac.new(secret.encode(), str(t).encode() + b"." + raw, hashlib.sha256).hexdigest()


# -- Goodera -------------------------------------------------------------------------------

@dataclass
class FakeGoodera:
    client_id: str = "summit-client"
    client_secret: str = "gdr-secret"
    expires_in: int = 3600
    token_failures: int = 0                                # answer the next N token requests with 503
    now: Any = time.time                                   # the fake's clock (token expiry)
    token_requests: int = 0
    tokens: dict[str, float] = field(default_factory=dict)    # token -> expires at
    received: list[dict[str, Any]] = field(default_factory=list)
    api_401s: int = 0

    def revoke_all(self) -> None:
        self.tokens.clear()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/oauth/token")
        async def token(request: Request):
            self.token_requests += 1
            if self.token_failures > 0:
                self.token_failures -= 1
                return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
            if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
            try:
                user, _, password = base64.b64decode(encoded).decode().partition(":")
            except ValueError:
                user, password = "", ""
            if scheme != "Basic" or (user, password) != (self.client_id, self.client_secret):
                return JSONResponse({"error": "invalid_client"}, status_code=401,
                                    headers={"WWW-Authenticate": 'Basic realm="goodera"'})
            form = dict((await request.form()).items())
            if form.get("grant_type") != "client_credentials":
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
            issued = secrets.token_urlsafe(24)
            self.tokens[issued] = self.now() + self.expires_in
            return JSONResponse({"access_token": issued, "token_type": "Bearer", "expires_in": self.expires_in},
                                headers={"Cache-Control": "no-store"})

        @app.post("/api/v1/impact-data")
        async def push(request: Request):
            scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
            expires = self.tokens.get(bearer) if scheme == "Bearer" else None
            if expires is None or self.now() >= expires:
                self.api_401s += 1
                return JSONResponse({"error": "invalid_token"}, status_code=401,
                                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            body = await request.json()
            self.received.append(body)
            return JSONResponse({"id": f"gdr_{len(self.received)}"}, status_code=201)

        return app


# -- Workday -------------------------------------------------------------------------------

NS = {
    "s": "http://schemas.xmlsoap.org/soap/envelope/",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "bsvc": "urn:com.workday/bsvc",
}
DIGEST_TYPE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"


def _fault(code: str, message: str, status: int = 500) -> Response:
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="{NS["s"]}" '
           f'xmlns:wsse="{NS["wsse"]}"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>{code}</faultcode>'
           f'<faultstring>{message}</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>')
    return Response(xml, status_code=status, media_type="text/xml")


@dataclass
class FakeWorkday:
    tenant: str = "acme_wd"
    username: str = "isu_summit@acme_wd"
    password: str = "wd-pass"
    max_age_seconds: int = 300
    now: Any = time.time
    seen_nonces: set[str] = field(default_factory=set)
    received: list[dict[str, str]] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/ccx/service/{tenant}/{service_path:path}")
        async def soap(tenant: str, service_path: str, request: Request):
            response = self._handle(tenant, request.headers.get("content-type", ""), await request.body())
            if response.status_code != 200:
                self.faults.append(response.body.decode())
            return response

        return app

    def _handle(self, tenant: str, content_type: str, raw: bytes) -> Response:
        if not content_type.startswith("text/xml"):
            return _fault("SOAP-ENV:Client", "SOAP 1.1 requires text/xml")
        if tenant != self.tenant:
            return _fault("SOAP-ENV:Client", f"Invalid tenant {tenant}")
        try:
            root = ET.fromstring(raw)
        except ET.ParseError:
            return _fault("SOAP-ENV:Client", "malformed XML")
        token = root.find("s:Header/wsse:Security/wsse:UsernameToken", NS)
        if token is None:
            return _fault("wsse:InvalidSecurity", "missing UsernameToken")
        username = token.findtext("wsse:Username", namespaces=NS)
        password = token.find("wsse:Password", NS)
        nonce = token.findtext("wsse:Nonce", namespaces=NS)
        created = token.findtext("wsu:Created", namespaces=NS)
        if password is None or password.get("Type") != DIGEST_TYPE or not nonce or not created:
            return _fault("wsse:InvalidSecurity", "PasswordDigest, Nonce and Created are required")
        if username != self.username or not username.endswith("@" + tenant):
            return _fault("wsse:FailedAuthentication", "invalid username or password")
        expected = base64.b64encode(hashlib.sha1(base64.b64decode(nonce) + created.encode()
                                                 + self.password.encode()).digest()).decode()
        if not hmac.compare_digest(expected, (password.text or "").strip()):
            return _fault("wsse:FailedAuthentication", "invalid username or password")
        age = self.now() - datetime.fromisoformat(created.replace("Z", "+00:00")).astimezone(UTC).timestamp()
        if age > self.max_age_seconds or age < -60:
            return _fault("wsse:MessageExpired", "Created is outside the accepted window")
        if nonce in self.seen_nonces:
            return _fault("wsse:FailedAuthentication", "nonce already used")
        self.seen_nonces.add(nonce)
        data = root.find("s:Body/bsvc:Put_Impact_Metrics_Request/bsvc:Impact_Metrics_Data", NS)
        if data is None:
            return _fault("SOAP-ENV:Client", "Validation error: Impact_Metrics_Data is required")
        self.received.append({el.tag.split("}")[1]: el.text or "" for el in data})
        ident = f"WD-{len(self.received)}"
        xml = (f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{NS["s"]}">'
               f'<env:Body><wd:Put_Impact_Metrics_Response xmlns:wd="{NS["bsvc"]}" wd:version="v40.0">'
               f'<wd:ID>{ident}</wd:ID></wd:Put_Impact_Metrics_Response></env:Body></env:Envelope>')
        return Response(xml, status_code=200, media_type="text/xml")

"""The HTTP side every service shares: health, readiness, metrics, OpenAPI and AsyncAPI,
problem+json errors, a request body limit, correlation ids, request metrics and spans.
Request logs carry method, route, status and ids; never bodies or tokens."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from nats.js.errors import NotFoundError
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from summit_common import dlq, problems
from summit_common.asyncapi import asyncapi_document
from summit_common.auth import Principal, TokenVerifier, require_role
from summit_common.logs import get_logger
from summit_common.problems import Problem

if TYPE_CHECKING:
    from summit_common.runtime import ServiceRuntime

log = get_logger(component="http")
_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("summit.http")
OPERATOR = "operator"


class BodyLimit:
    """413 for bodies over the limit, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._reject(scope, send)
        seen = 0
        rejected = False

        async def limited() -> Message:
            # Past the limit: answer 413 ourselves and tell the app the client left.
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    rejected = True
                    await self._reject(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        try:
            await self.app(scope, limited, guarded_send)
        except Exception:
            if not rejected:
                raise

    async def _reject(self, scope: Scope, send: Send) -> None:
        request = Request(scope)
        response = problems.problem_response(
            request, 413, "request body too large", f"the limit is {self.max_bytes} bytes", max_bytes=self.max_bytes
        )
        await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class RequestContext:
    """Correlation id (created or propagated), server span, request metrics and an access log line."""

    def __init__(self, app: ASGIApp, runtime: ServiceRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        correlation = headers.get("x-correlation-id") or str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = correlation
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-correlation-id", correlation.encode()))
            await send(message)

        context = _propagator.extract(headers)
        with _tracer.start_as_current_span(f"{scope['method']} {scope['path']}", context=context, kind=trace.SpanKind.SERVER):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = scope.get("route")
                path = getattr(route, "path", "unmatched")
                self.runtime.metrics.http_requests(method=scope["method"], route=path, status=str(status)).inc()
                if path not in ("/healthz", "/readyz", "/metrics"):
                    log.info("http_request", service=self.runtime.service.name, method=scope["method"], route=path,
                             status=status, ms=round((time.perf_counter() - started) * 1000, 2), correlation_id=correlation)


def build_app(runtime: ServiceRuntime) -> FastAPI:
    service = runtime.service
    app = FastAPI(title=service.name, description=service.description, version=service.version)
    app.state.runtime = runtime
    app.state.verifier = TokenVerifier(
        secret=runtime.settings.jwt_secret,
        jwks_url=runtime.settings.jwt_jwks_url,
        issuer=runtime.settings.jwt_issuer,
        audience=runtime.settings.jwt_audience,
    )
    problems.install(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict:
        return {"status": "ok", "service": service.name}

    @app.get("/readyz", tags=["ops"])
    async def readyz():
        checks = await runtime.readiness()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"])
    async def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi.json", tags=["ops"])
    async def asyncapi() -> dict:
        return asyncapi_document(service, runtime.naming)

    @app.get("/v1/dlq", tags=["ops"])
    async def list_dead_letters(limit: int = 100, _: Principal = Depends(require_role(OPERATOR))) -> dict:
        entries = await dlq.list_entries(runtime.js, runtime.naming, service.name, limit=min(max(limit, 1), 1000))
        return {"items": [e.summary() for e in entries]}

    @app.post("/v1/dlq/{seq}/replay", tags=["ops"])
    async def replay_dead_letter(seq: int, _: Principal = Depends(require_role(OPERATOR))) -> dict:
        try:
            entry = await dlq.get_entry(runtime.js, runtime.naming, seq)
        except NotFoundError:
            entry = None
        if entry is None or entry.service != service.name:
            raise Problem(404, "not found", f"no dead letter {seq} for {service.name}")
        await dlq.replay(runtime.js, runtime.naming, seq)
        return {"replayed": entry.summary()}

    if service.router is not None:
        app.include_router(service.router)
    # The last added is outermost: request context (ids, metrics, access log) sees 413s too.
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_body_bytes)
    app.add_middleware(RequestContext, runtime=runtime)
    return app

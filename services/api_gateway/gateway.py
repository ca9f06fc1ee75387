"""The gateway's per-replica state: route table, upstream connection pool, caches, rate
limiter, the membership-change subscription, and the operations built on them.

The chassis builds the FastAPI app and has no start/stop hooks for a service, so the state
is created on the first request that needs it (`get_gateway`) and attached to the app;
`close_gateway` releases it (tests call it; a process that exits needs nothing).

Cache invalidation on a membership change (gateway.membership.changed.v1):
- the replica that made the change invalidates at once, after commit (read-your-writes);
- in-process caches: every replica holds a plain NATS subscription on the event's subject
  (a broadcast: the chassis's durable consumer gives each event to ONE replica only) and
  drops the entry. Core NATS is at-most-once, so a replica that sees its connection
  reconnect clears its whole cache (it may have missed invalidations meanwhile); the
  5-minute TTL bounds anything else;
- Redis cache: the durable consumer (handlers.py) invalidates the shared entry once, with
  the chassis's retries and dead-lettering; no broadcast is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.parse
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml
from fastapi import FastAPI, Request
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import Counter, Histogram
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from services.api_gateway import domain, store
from services.api_gateway.cache import Cache, LocalCache, Lookup, RedisCache
from services.api_gateway.config import GatewaySettings
from services.api_gateway.ratelimit import Limiter, LocalLimiter, RedisLimiter
from summit_common.auth import mint_token
from summit_common.logs import get_logger
from summit_common.problems import Problem
from summit_contracts import REGISTRY, CloudEvent

if TYPE_CHECKING:
    from summit_common.runtime import ServiceRuntime

log = get_logger(component="gateway")
MEMBERSHIP_CHANGED = "gateway.membership.changed.v1"
ACCESS_DENIED = "gateway.access.denied.v1"
SERVICE_NAME = "api-gateway"
_PROPAGATOR = TraceContextTextMapPropagator()
BUFFER_BYTES = 256 * 1024  # upstream answers up to this size (with a Content-Length) are relayed whole

# schema -> REDIS_URL of the gateway state created for it in this process ('' = in process).
# The durable consumer reads it to find the shared cache (see handlers.py).
_SHARED_CACHE_URLS: dict[str, str] = {}


def shared_cache_url(schema: str) -> str:
    if schema in _SHARED_CACHE_URLS:
        return _SHARED_CACHE_URLS[schema]
    return GatewaySettings().redis_url


def namespace(schema: str) -> str:
    return f"gw:{schema}"


def membership_key(company_id: str, user_id: str) -> str:
    return domain.cache_key(company_id, user_id)


def load_rules(path: Path) -> domain.RouteTable:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise domain.RulesError(f"cannot read route rules from {path}: {exc}") from None
    try:
        return domain.parse_rules(doc)
    except domain.RulesError as exc:
        raise domain.RulesError(f"{path}: {exc}") from None


_METRICS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class GatewayMetrics:
    """One set per metrics registry (a runtime's), however often its gateway state is rebuilt."""

    @classmethod
    def of(cls, registry) -> GatewayMetrics:
        if registry not in _METRICS:
            _METRICS[registry] = cls(registry)
        return _METRICS[registry]

    def __init__(self, registry) -> None:
        self.upstream = Counter("gateway_upstream_responses", "Proxied responses by upstream service and status",
                                ["service", "status"], registry=registry).labels
        self.upstream_errors = Counter("gateway_upstream_errors", "Upstream failures (502/504) by service and kind",
                                       ["service", "kind"], registry=registry).labels
        self.upstream_seconds = Histogram(
            "gateway_upstream_seconds", "Time to the upstream's response headers", ["service"], registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        ).labels
        self.denied = Counter("gateway_denied", "Denied requests by reason", ["reason"], registry=registry).labels
        self.cache = Counter("gateway_cache_lookups", "Cache lookups", ["cache", "result"], registry=registry).labels
        self.invalidations = Counter("gateway_cache_invalidations", "Membership cache invalidations", ["source"],
                                     registry=registry).labels
        self.backend_errors = Counter("gateway_backend_errors", "Redis/NATS failures the gateway worked around",
                                      ["backend"], registry=registry).labels


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    company_id: str
    role: str
    revoked: bool

    def encode(self) -> str:
        return "|".join(["revoked" if self.revoked else "ok", self.key_id, self.company_id, self.role])

    @classmethod
    def decode(cls, text: str) -> KeyInfo | None:
        if not text:
            return None
        state, key_id, company_id, role = text.split("|", 3)
        return cls(key_id, company_id, role, state == "revoked")


class Gateway:
    def __init__(self, runtime: ServiceRuntime, settings: GatewaySettings | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 mounts: Mapping[str, httpx.AsyncBaseTransport] | None = None) -> None:
        self.runtime = runtime
        self.settings = settings or GatewaySettings()
        self.table = load_rules(self.settings.routes_file)
        s = self.settings
        # One httpx.AsyncClient per upstream service, shared by every request to it (its
        # connection pool). Per service, because httpcore's pool does work quadratic in its
        # connection count on every request: small pools stay cheap, and few idle connections
        # are kept so a pool that grew in a burst shrinks back (measured: one big shared pool
        # turns a burst into a queue that feeds itself).
        self._limits = httpx.Limits(max_connections=s.max_connections, max_keepalive_connections=s.max_idle_connections,
                                    keepalive_expiry=30)
        self._default_transport = transport
        self._mounts = {k.rstrip("/"): v for k, v in (mounts or {}).items()}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._timeout = httpx.Timeout(s.upstream_timeout_seconds, connect=s.connect_timeout_seconds,
                                      pool=s.connect_timeout_seconds)
        # Health probes: their own small client, so probing never waits behind proxied traffic.
        self.http = _client(transport, self._mounts, httpx.Timeout(s.health_timeout_seconds),
                            httpx.Limits(max_connections=20, max_keepalive_connections=0))
        self.metrics = GatewayMetrics.of(runtime.metrics.registry)
        ns = namespace(runtime.schema)
        self.redis: Redis | None = None
        self.membership: Cache
        self.api_keys: Cache
        self.limiter: Limiter
        if s.redis_url:
            self.redis = Redis.from_url(s.redis_url, socket_connect_timeout=1, socket_timeout=1)
            self.membership = RedisCache(self.redis, namespace=f"{ns}:m", ttl=s.membership_ttl_seconds)
            self.api_keys = RedisCache(self.redis, namespace=f"{ns}:k", ttl=s.api_key_cache_seconds)
            self.limiter = RedisLimiter(self.redis, namespace=ns)
        else:
            self.membership = LocalCache(ttl=s.membership_ttl_seconds)
            self.api_keys = LocalCache(ttl=s.api_key_cache_seconds)
            self.limiter = LocalLimiter()
        _SHARED_CACHE_URLS[runtime.schema] = s.redis_url
        self._subscription = None
        self._reconnects_seen = 0
        self._minted: dict[str, tuple[str, float]] = {}
        self._health: tuple[float, int, dict] | None = None
        self._health_lock = asyncio.Lock()
        self._started: asyncio.Future | None = None
        self.ready = False

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self.ready:
            return
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        try:
            await asyncio.shield(self._started)
        except Exception:
            self._started = None  # e.g. NATS unreachable: the next request tries again
            raise

    async def _start(self) -> None:
        nc = self.runtime.nc
        if not self.membership.shared and nc is not None:
            if self._subscription is None:
                subject = self.runtime.naming.subject(MEMBERSHIP_CHANGED)
                self._subscription = await nc.subscribe(subject, cb=self._on_broadcast)
            await nc.flush(timeout=5)  # the server has the subscription before anything is cached
            self._reconnects_seen = nc.stats.get("reconnects", 0)
        self.ready = True

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        await self.http.aclose()
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.aclose()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()

    # --- membership cache ----------------------------------------------------------------

    def _check_reconnects(self) -> None:
        nc = self.runtime.nc
        if self._subscription is None or nc is None:
            return
        seen = nc.stats.get("reconnects", 0)
        if seen != self._reconnects_seen:
            self._reconnects_seen = seen
            self.membership.clear()
            self.metrics.invalidations(source="reconnect").inc()
            log.warning("membership_cache_cleared", reason="nats_reconnected")

    async def _cached(self, cache: Cache, name: str, key: str) -> Lookup | None:
        try:
            found = await cache.lookup(key)
        except RedisError:
            self.metrics.backend_errors(backend="redis").inc()
            return None
        self.metrics.cache(cache=name, result="hit" if found.hit else "miss").inc()
        return found

    async def _fill(self, cache: Cache, found: Lookup | None, key: str, value: str) -> None:
        if found is None:
            return  # Redis is down: serve from the database, cache nothing
        try:
            await cache.store(key, value, found.ticket)
        except RedisError:
            self.metrics.backend_errors(backend="redis").inc()

    async def member_role(self, company_id: str, user_id: str) -> str | None:
        """The user's role in the company (None: not a member), through the cache."""
        self._check_reconnects()
        key = membership_key(company_id, user_id)
        found = await self._cached(self.membership, "membership", key)
        if found is not None and found.hit:
            return found.value or None
        async with self.runtime.pool.acquire() as conn:
            role = await store.touch_member_role(conn, company_id=company_id, user_id=user_id)
        await self._fill(self.membership, found, key, role or "")
        return role

    async def invalidate_membership(self, company_id: str, user_id: str, *, source: str) -> None:
        try:
            await self.membership.invalidate([membership_key(company_id, user_id)])
        except RedisError:
            self.metrics.backend_errors(backend="redis").inc()
            log.warning("membership_invalidation_failed", backend="redis")  # the durable consumer retries
            return
        self.metrics.invalidations(source=source).inc()

    async def _on_broadcast(self, msg) -> None:
        """Every replica: drop the changed membership from this replica's in-process cache."""
        try:
            event = CloudEvent.from_json(msg.data)
            data = REGISTRY.get(MEMBERSHIP_CHANGED).validate(event.data)
        except Exception:
            self.metrics.invalidations(source="broadcast_invalid").inc()
            return  # the durable consumer dead-letters it
        if data.company_id != event.tenantid:
            return
        await self.invalidate_membership(data.company_id, data.user_id, source="broadcast")

    # --- API keys -------------------------------------------------------------------------

    async def resolve_api_key(self, key: str) -> KeyInfo | None:
        """The key's company and role (None: not a key of any company). A revoked key is
        returned with revoked=True so the denial can say so."""
        if domain.api_key_prefix(key) is None:
            return None
        cache_key = domain.hash_api_key(key)
        found = await self._cached(self.api_keys, "api_key", cache_key)
        if found is not None and found.hit:
            return KeyInfo.decode(found.value or "")
        async with self.runtime.pool.acquire() as conn:
            row = await store.api_key_by_prefix(conn, key_prefix=domain.api_key_prefix(key))
        info = None
        if row is not None and domain.api_key_matches(key, row["key_hash"]):
            info = KeyInfo(str(row["key_id"]), row["company_id"], row["role"], row["revoked_at"] is not None)
        await self._fill(self.api_keys, found, cache_key, info.encode() if info else "")
        return info

    async def forget_api_key(self, key_hash: str) -> None:
        try:
            await self.api_keys.invalidate([key_hash])
        except RedisError:
            self.metrics.backend_errors(backend="redis").inc()

    def upstream_token(self, info: KeyInfo) -> str:
        """A short-lived JWT for an API-key caller, so upstream services verify it like any
        other (sub 'apikey:<id>', the key's company and role). Reused until a minute before expiry."""
        secret = self.runtime.settings.jwt_secret
        if not secret:
            raise Problem(503, "API keys unavailable",
                          "the gateway has no signing key (SUMMIT_JWT_SECRET) to vouch for API-key callers upstream")
        now = time.time()
        cached = self._minted.get(info.key_id)
        if cached and cached[1] > now:
            return cached[0]
        ttl = self.settings.api_key_token_ttl_seconds
        token = mint_token(secret, sub=f"apikey:{info.key_id}", tenant=info.company_id, roles=[info.role], ttl_seconds=ttl,
                           issuer=self.runtime.settings.jwt_issuer)
        if len(self._minted) > 10_000:
            self._minted.clear()
        self._minted[info.key_id] = (token, now + ttl - 60)
        return token

    # --- rate limits ---------------------------------------------------------------------

    async def take_tokens(self, rule: domain.RouteRule, company_id: str, principal_key: str) -> domain.Verdict:
        rate = self.table.rate_classes[rule.rate_class]
        buckets = [
            (f"{rule.rate_class}:t:{domain.cache_key(company_id)}", rate.tenant),
            (f"{rule.rate_class}:p:{domain.cache_key(principal_key)}", rate.principal),
        ]
        try:
            return await self.limiter.take(buckets)
        except RedisError:
            # Fail open: a Redis outage must not take the platform down with it.
            self.metrics.backend_errors(backend="redis").inc()
            return domain.Verdict(True)

    # --- proxy ---------------------------------------------------------------------------

    async def forward(self, request: Request, rule: domain.RouteRule, *, authorization: str | None) -> Response:
        """Send the request upstream and stream the answer back; 502/504 problems when the
        upstream cannot be reached or is too slow."""
        base = self.settings.service_urls.get(rule.service)
        if base is None:
            self.metrics.upstream_errors(service=rule.service, kind="unconfigured").inc()
            raise Problem(502, "upstream not configured", f"SUMMIT_SERVICE_URLS has no base URL for {rule.service}",
                          service=rule.service)
        scope = request.scope
        path = urllib.parse.quote(domain.upstream_path(rule, scope["path"]), safe="/:@!$&'()*+,;=-._~")
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"{base}{path}" + (f"?{query}" if query else "")
        incoming = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        traceparent, tracestate = _trace_headers(request)
        peer = scope.get("client")
        headers = domain.request_headers(
            incoming,
            correlation_id=request.state.correlation_id,
            traceparent=traceparent,
            tracestate=tracestate,
            client_ip=peer[0] if peer else None,
            scheme=scope.get("scheme", "http"),
            host=request.headers.get("host"),
            public_prefix=rule.prefix,
            authorization=authorization,
        )
        has_body = request.headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in request.headers
        client = self._client_for(base)
        upstream_request = client.build_request(request.method, url, headers=headers,
                                                content=request.stream() if has_body else None)
        started = time.perf_counter()
        try:
            upstream = await client.send(upstream_request, stream=True)
            length = upstream.headers.get("content-length", "")
            body = None
            if length.isdigit() and int(length) <= BUFFER_BYTES:
                # Small answers are read whole: a plain response is cheaper than a streamed one.
                try:
                    body = b"".join([chunk async for chunk in upstream.aiter_raw()])
                finally:
                    await upstream.aclose()
        except ClientDisconnect:
            return Response(status_code=499)  # the client left (or the body was over the limit: 413 already sent)
        except httpx.TimeoutException:
            self.metrics.upstream_errors(service=rule.service, kind="timeout").inc()
            raise Problem(504, "upstream timed out", f"{rule.service} did not answer in time", service=rule.service) from None
        except httpx.HTTPError as exc:
            self.metrics.upstream_errors(service=rule.service, kind=type(exc).__name__).inc()
            raise Problem(502, "upstream unavailable", f"{rule.service} could not be reached ({type(exc).__name__})",
                          service=rule.service) from None
        elapsed = time.perf_counter() - started
        self.metrics.upstream_seconds(service=rule.service).observe(elapsed)
        self.metrics.upstream(service=rule.service, status=str(upstream.status_code)).inc()
        if body is not None:
            response = Response(body, status_code=upstream.status_code)
        else:
            response = StreamingResponse(_relay(upstream), status_code=upstream.status_code,
                                         background=BackgroundTask(upstream.aclose))
        response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1"))
                                for k, v in domain.response_headers(upstream.headers.multi_items())]
        return response

    def _client_for(self, base_url: str) -> httpx.AsyncClient:
        client = self._clients.get(base_url)
        if client is None:
            transport = self._mounts.get(base_url) or self._default_transport
            client = self._clients[base_url] = _client(transport, {}, self._timeout, self._limits)
        return client

    # --- health --------------------------------------------------------------------------

    def health_targets(self) -> list[str]:
        return sorted((set(self.settings.service_urls) | set(self.table.services)) - {SERVICE_NAME})

    async def _probe(self, service: str) -> str:
        base = self.settings.service_urls.get(service)
        if base is None:
            return "unconfigured"
        try:
            r = await self.http.get(f"{base}/readyz")
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError:
            return "unreachable"
        return "ready" if r.status_code == 200 else "not_ready"

    async def _self_status(self) -> str:
        checks = await self.runtime.readiness()
        return "ready" if all(checks.values()) else "not_ready"

    async def service_health(self, service: str) -> str:
        if service == SERVICE_NAME:
            return await self._self_status()
        return await self._probe(service)

    async def health_all(self) -> tuple[int, dict[str, Any]]:
        """Readiness of every upstream (and of the gateway): up/down only, nothing else.
        Reused for GATEWAY_HEALTH_CACHE_SECONDS so an unauthenticated caller cannot turn one
        request into a probe of every service at will."""
        ttl = self.settings.health_cache_seconds
        async with self._health_lock:
            if self._health is not None and time.monotonic() < self._health[0]:
                return self._health[1], self._health[2]
            targets = self.health_targets()
            results = await asyncio.gather(self._self_status(), *(self._probe(s) for s in targets))
            services = {SERVICE_NAME: {"status": results[0]}}
            services.update({name: {"status": status} for name, status in zip(targets, results[1:], strict=True)})
            ready = all(v["status"] == "ready" for v in services.values())
            body = {"status": "ready" if ready else "degraded", "services": services}
            code = 200 if ready else 503
            if ttl > 0:
                self._health = (time.monotonic() + ttl, code, body)
            return code, body


def _client(transport: httpx.AsyncBaseTransport | None, mounts: Mapping[str, httpx.AsyncBaseTransport],
            timeout: httpx.Timeout, limits: httpx.Limits) -> httpx.AsyncClient:
    """An upstream client that adds nothing of its own: no cookie jar (it would keep one
    caller's upstream cookies and send them for the next), no default Accept-Encoding (the
    body is relayed raw: the upstream must encode only what the caller accepts), no
    User-Agent or Accept, no redirects followed, no proxy settings from the environment."""
    if transport is None:
        transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False, retries=0)
    client = httpx.AsyncClient(transport=transport, mounts=dict(mounts), timeout=timeout, follow_redirects=False,
                               trust_env=False, cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))
    for name in ("accept", "accept-encoding", "user-agent"):
        del client.headers[name]
    return client


async def _relay(upstream: httpx.Response):
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:  # the status is already sent: all we can do is cut the body short
        log.warning("upstream_body_failed", error=type(exc).__name__)


def _trace_headers(request: Request) -> tuple[str | None, str | None]:
    """The current span's context (a child of the incoming traceparent when tracing is on,
    the incoming one itself otherwise)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return (carrier.get("traceparent") or request.headers.get("traceparent"),
            carrier.get("tracestate") or request.headers.get("tracestate"))


# --- attach to the app ---------------------------------------------------------------------


def configure(app: FastAPI, *, settings: GatewaySettings | None = None, transport: httpx.AsyncBaseTransport | None = None,
              mounts: Mapping[str, httpx.AsyncBaseTransport] | None = None) -> None:
    """Before the first request: settings other than the environment's, and transports for
    the upstream client (tests mount in-process ASGI apps)."""
    if getattr(app.state, "gateway", None) is not None:
        raise RuntimeError("the gateway of this app is already running")
    app.state.gateway_options = {"settings": settings, "transport": transport, "mounts": mounts}


async def get_gateway(app: FastAPI) -> Gateway:
    gateway = getattr(app.state, "gateway", None)
    if gateway is None:
        options = getattr(app.state, "gateway_options", {})
        gateway = Gateway(app.state.runtime, **options)
        app.state.gateway = gateway
    if not gateway.ready:
        await gateway.start()
    return gateway


async def close_gateway(app: FastAPI) -> None:
    gateway = getattr(app.state, "gateway", None)
    if gateway is not None:
        app.state.gateway = None
        await gateway.close()

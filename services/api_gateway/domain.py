"""Pure logic of the api-gateway: no I/O.

- Route rules (data from routes.yaml): parsing and validation, longest-prefix matching on
  path-segment boundaries, and the rewrite of the public path to the upstream /v1 path.
- Token buckets (rate limits), all-or-nothing over several buckets, and Retry-After.
- Header filtering for both directions of the proxy (hop-by-hop headers dropped).
- API keys: minting, the visible lookup prefix, sha256 hashing, constant-time checks.
- The access decision: membership, stale token roles, the route's roles.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# --- roles ------------------------------------------------------------------------------

ADMIN, COMPANY_USER, PARTICIPANT = "admin", "company_user", "participant"
ROLES: tuple[str, ...] = (ADMIN, COMPANY_USER, PARTICIPANT)
# Only used to spot a token that claims more than the membership grants (see `decide`).
RANK = {PARTICIPANT: 1, COMPANY_USER: 2, ADMIN: 3}
PLATFORM_ADMIN = "platform-admin"

# Company ids are JWT `tenant` values. A leading letter or digit keeps `_none` (the tenant of
# events about callers whose tenant is unknown) and other reserved names out.
COMPANY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
NO_TENANT = "_none"

# --- route rules -----------------------------------------------------------------------


class RulesError(ValueError):
    """routes.yaml is invalid; the message names the entry and the problem."""


@dataclass(frozen=True)
class Limit:
    """A token bucket: `burst` tokens at most, refilled at `per_second`."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.per_second > 0 and math.isfinite(self.per_second)):
            raise RulesError(f"per_second must be a positive number, got {self.per_second!r}")
        if self.burst < 1:
            raise RulesError(f"burst must be at least 1, got {self.burst!r}")


@dataclass(frozen=True)
class RateClass:
    name: str
    tenant: Limit      # one bucket per (class, company)
    principal: Limit   # one bucket per (class, user or API key)


@dataclass(frozen=True)
class RouteRule:
    prefix: str        # public path prefix, no trailing slash: "/api/profiles"
    service: str       # upstream service name, a key of SUMMIT_SERVICE_URLS
    rewrite: str       # upstream path prefix replacing `prefix`: "/v1/profiles"
    roles: frozenset[str]
    rate_class: str = "default"
    # Public routes carry their own credential (a signed share link, a partner's webhook
    # signature): no JWT or membership here, and no Authorization header is forwarded.
    public: bool = False


@dataclass(frozen=True)
class RouteTable:
    rules: tuple[RouteRule, ...]                     # longest prefix first
    rate_classes: Mapping[str, RateClass] = field(default_factory=dict)

    @property
    def services(self) -> list[str]:
        return sorted({r.service for r in self.rules})


def _norm_prefix(value: Any, where: str, *, must_start: str) -> str:
    if not isinstance(value, str) or not value.startswith(must_start):
        raise RulesError(f"{where}: must be a path starting with {must_start!r}, got {value!r}")
    trimmed = value.rstrip("/") or "/"
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+|/", trimmed) or unsafe_path(trimmed):
        raise RulesError(f"{where}: {value!r} is not a plain path (letters, digits, . _ ~ - between slashes)")
    return trimmed


def _limit(value: Any, where: str) -> Limit:
    if not isinstance(value, Mapping) or set(value) != {"per_second", "burst"}:
        raise RulesError(f"{where}: give exactly per_second and burst")
    per_second, burst = value["per_second"], value["burst"]
    if isinstance(per_second, bool) or not isinstance(per_second, int | float):
        raise RulesError(f"{where}.per_second: must be a number")
    if isinstance(burst, bool) or not isinstance(burst, int):
        raise RulesError(f"{where}.burst: must be an integer")
    try:
        return Limit(float(per_second), burst)
    except RulesError as exc:
        raise RulesError(f"{where}: {exc}") from None


def parse_rules(doc: Any) -> RouteTable:
    """Validate the YAML document (already parsed) into a RouteTable; raises RulesError."""
    if not isinstance(doc, Mapping) or "routes" not in doc:
        raise RulesError("the document needs a 'routes' list (and optionally 'rate_limits')")
    unknown = set(doc) - {"routes", "rate_limits"}
    if unknown:
        raise RulesError(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    classes: dict[str, RateClass] = {}
    raw_classes = doc.get("rate_limits") or {}
    if not isinstance(raw_classes, Mapping):
        raise RulesError("rate_limits: must map a class name to {tenant: ..., key: ...}")
    for name, spec in raw_classes.items():
        where = f"rate_limits.{name}"
        if not isinstance(spec, Mapping) or set(spec) != {"tenant", "key"}:
            raise RulesError(f"{where}: give exactly 'tenant' and 'key' limits")
        classes[str(name)] = RateClass(str(name), _limit(spec["tenant"], f"{where}.tenant"), _limit(spec["key"], f"{where}.key"))
    if "default" not in classes:
        raise RulesError("rate_limits: a 'default' class is required")

    raw_routes = doc["routes"]
    if not isinstance(raw_routes, Sequence) or isinstance(raw_routes, str) or not raw_routes:
        raise RulesError("routes: must be a non-empty list")
    rules: list[RouteRule] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw_routes):
        where = f"routes[{index}]"
        if not isinstance(entry, Mapping):
            raise RulesError(f"{where}: must be a mapping")
        extra = set(entry) - {"prefix", "service", "rewrite", "roles", "rate_class", "public"}
        if extra:
            raise RulesError(f"{where}: unknown keys {', '.join(sorted(extra))}")
        prefix = _norm_prefix(entry.get("prefix"), f"{where}.prefix", must_start="/api/")
        if prefix in seen:
            raise RulesError(f"{where}.prefix: {prefix!r} is listed twice")
        seen.add(prefix)
        service = entry.get("service")
        if not isinstance(service, str) or not SERVICE_NAME.match(service):
            raise RulesError(f"{where}.service: a service name like 'unified-profile' is required")
        rewrite = _norm_prefix(entry.get("rewrite", "/v1"), f"{where}.rewrite", must_start="/")
        public = entry.get("public", False)
        if not isinstance(public, bool):
            raise RulesError(f"{where}.public: must be true or false")
        roles = entry.get("roles", [] if public else None)
        if public and roles:
            raise RulesError(f"{where}.roles: a public route has no roles (its upstream authenticates the request)")
        if not public and (not isinstance(roles, Sequence) or isinstance(roles, str) or not roles):
            raise RulesError(f"{where}.roles: a non-empty list of roles is required")
        bad = sorted(set(map(str, roles)) - set(ROLES))
        if bad:
            raise RulesError(f"{where}.roles: unknown roles {', '.join(bad)} (known: {', '.join(ROLES)})")
        rate_class = entry.get("rate_class", "default")
        if rate_class not in classes:
            raise RulesError(f"{where}.rate_class: {rate_class!r} is not defined under rate_limits")
        rules.append(RouteRule(prefix, service, rewrite, frozenset(map(str, roles)), rate_class, public))
    rules.sort(key=lambda r: len(r.prefix), reverse=True)
    return RouteTable(tuple(rules), classes)


_DOT_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$)")


def unsafe_path(path: str) -> bool:
    """Dot segments, backslashes and control characters are refused before matching: an
    upstream (or httpx's URL normalisation) could resolve them outside the matched prefix."""
    return bool(_DOT_SEGMENT.search(path)) or "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path)


def match_route(table: RouteTable, path: str) -> RouteRule | None:
    """The rule with the longest prefix that matches `path` on a segment boundary:
    `/api/profiles` matches `/api/profiles` and `/api/profiles/x`, never `/api/profilesx`."""
    for rule in table.rules:  # longest first
        if path == rule.prefix or path.startswith(rule.prefix + "/"):
            return rule
    return None


def upstream_path(rule: RouteRule, path: str) -> str:
    """The rewrite rule: the matched prefix is replaced by the rule's `rewrite` (default /v1),
    the rest of the path is kept: /api/kintell/sessions/S-1 -> /v1/sessions/S-1."""
    rest = path[len(rule.prefix):]
    base = "" if rule.rewrite == "/" else rule.rewrite
    return (base + rest) or "/"


# --- token bucket ----------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    tokens: float
    updated: float  # seconds, any monotonic clock


def refill(bucket: Bucket | None, limit: Limit, now: float) -> float:
    """Tokens available at `now` (a new bucket starts full; time never runs backwards)."""
    if bucket is None:
        return float(limit.burst)
    elapsed = max(0.0, now - bucket.updated)
    return min(float(limit.burst), bucket.tokens + elapsed * limit.per_second)


def wait_for_token(tokens: float, limit: Limit) -> float:
    """Seconds until one whole token is available (0 when one is)."""
    return 0.0 if tokens >= 1.0 else (1.0 - tokens) / limit.per_second


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float = 0.0  # seconds; > 0 only when refused


def take_all(buckets: Sequence[Bucket | None], limits: Sequence[Limit], now: float) -> tuple[Verdict, list[Bucket]]:
    """Take one token from every bucket, or from none: a request refused by its key's bucket
    does not spend its tenant's token. Returns the verdict and the buckets to store (the
    refilled state when refused, so the next call does not refill twice)."""
    levels = [refill(b, lim, now) for b, lim in zip(buckets, limits, strict=True)]
    wait = max((wait_for_token(t, lim) for t, lim in zip(levels, limits, strict=True)), default=0.0)
    if wait > 0:
        return Verdict(False, wait), [Bucket(t, now) for t in levels]
    return Verdict(True), [Bucket(t - 1.0, now) for t in levels]


def retry_after_header(seconds: float) -> str:
    """Retry-After is whole seconds (RFC 9110); round up so a client that obeys it succeeds."""
    return str(max(1, math.ceil(seconds - 1e-9)))


# --- headers ---------------------------------------------------------------------------

# RFC 9110 7.6.1 hop-by-hop headers, plus the old Proxy-Connection.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade",
})
# Set by the gateway itself, never copied from the client.
_REQUEST_OWNED = frozenset({"host", "x-api-key", "x-correlation-id", "traceparent", "tracestate",
                            "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-prefix", "forwarded"})
# The gateway's own server adds these (and the chassis adds the correlation id).
_RESPONSE_OWNED = frozenset({"date", "server", "x-correlation-id"})


def _connection_listed(headers: Iterable[tuple[str, str]]) -> set[str]:
    listed: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            listed.update(token.strip().lower() for token in value.split(",") if token.strip())
    return listed


def request_headers(
    incoming: Sequence[tuple[str, str]],
    *,
    correlation_id: str,
    traceparent: str | None,
    tracestate: str | None,
    client_ip: str | None,
    scheme: str,
    host: str | None,
    public_prefix: str,
    authorization: str | None = None,
) -> list[tuple[str, str]]:
    """Headers for the upstream request: hop-by-hop ones (and those the Connection header
    names) dropped, X-API-Key never forwarded, Authorization passed through (or replaced by
    the gateway's token for an API-key caller; "" drops it), correlation and trace context set,
    X-Forwarded-* appended."""
    drop = HOP_BY_HOP | _REQUEST_OWNED | _connection_listed(incoming)
    if authorization is not None:
        drop = drop | {"authorization"}
    out = [(n, v) for n, v in incoming if n.lower() not in drop]
    if authorization:
        out.append(("authorization", authorization))
    prior = [v for n, v in incoming if n.lower() == "x-forwarded-for"]
    chain = ", ".join([*prior, client_ip] if client_ip else prior)
    if chain:
        out.append(("x-forwarded-for", chain))
    out.append(("x-forwarded-proto", scheme))
    if host:
        out.append(("x-forwarded-host", host))
    out.append(("x-forwarded-prefix", public_prefix))
    out.append(("x-correlation-id", correlation_id))
    if traceparent:
        out.append(("traceparent", traceparent))
        if tracestate:
            out.append(("tracestate", tracestate))
    return out


def response_headers(upstream: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers for the client: hop-by-hop ones dropped; Content-Length and Content-Encoding
    kept because the body is relayed byte for byte."""
    drop = HOP_BY_HOP | _RESPONSE_OWNED | _connection_listed(upstream)
    return [(n, v) for n, v in upstream if n.lower() not in drop]


# --- API keys ---------------------------------------------------------------------------

API_KEY_SCHEME = "smk"
_LOOKUP_CHARS = 12
_API_KEY = re.compile(r"^smk_([a-z2-7]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class IssuedKey:
    key: str       # shown once, never stored
    prefix: str    # visible, stored, unique: "smk_abcdefghijkl"
    sha256: str    # stored


def hash_api_key(key: str) -> str:
    """sha256 is enough for a 256-bit random secret (no dictionary to slow down)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> IssuedKey:
    lookup = base64.b32encode(random_bytes(8)).decode().lower().rstrip("=")[:_LOOKUP_CHARS]
    secret = base64.urlsafe_b64encode(random_bytes(32)).decode().rstrip("=")
    key = f"{API_KEY_SCHEME}_{lookup}_{secret}"
    return IssuedKey(key=key, prefix=f"{API_KEY_SCHEME}_{lookup}", sha256=hash_api_key(key))


def api_key_prefix(key: str) -> str | None:
    """The stored lookup prefix of a well-formed key; None when the text is not a key."""
    match = _API_KEY.fullmatch(key)
    return f"{API_KEY_SCHEME}_{match.group(1)}" if match else None


def api_key_matches(key: str, stored_sha256: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), stored_sha256)


# --- access decision -------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int = 200
    reason: str = ""
    detail: str = ""


def stale_roles(token_roles: Iterable[str], member_role: str) -> list[str]:
    """Gateway roles the token claims above what the membership grants (the membership was
    downgraded after the token was issued). Upstream services trust the token's roles, so a
    stale claim must not pass the gateway. Roles outside admin/company_user/participant are
    the services' business and are not judged here."""
    limit = RANK[member_role]
    return sorted(r for r in set(token_roles) if r in RANK and RANK[r] > limit)


def decide(*, company: str, token_roles: frozenset[str] | None, member_role: str | None,
           allowed_roles: frozenset[str], platform_admin: bool = False) -> Decision:
    """May this caller use a route that allows `allowed_roles` in `company`?

    `member_role` is the caller's row in company_users (None: not a member); for an API key
    it is the key's role and `token_roles` is None. The membership is the authority: its role
    is the one the route must allow. platform-admin crosses tenants without a membership."""
    if platform_admin:
        return Decision(True)
    if member_role is None:
        return Decision(False, 403, "not_a_member", f"you are not a member of company {company}")
    if token_roles is not None:
        stale = stale_roles(token_roles, member_role)
        if stale:
            return Decision(False, 403, "stale_token_roles",
                            f"your token claims {', '.join(stale)} but your role in {company} is now {member_role}; sign in again")
    if member_role not in allowed_roles:
        return Decision(False, 403, "role_not_allowed",
                        f"this route needs one of the roles: {', '.join(sorted(allowed_roles))}; yours is {member_role}")
    return Decision(True)


def cache_key(*parts: str) -> str:
    """Unambiguous key from parts that may contain ':' (length-prefixed)."""
    return ":".join(f"{len(p)}.{p}" for p in parts)

"""Pure logic: route rules and matching, token buckets, header filtering, API keys, access decisions."""

from __future__ import annotations

import hashlib
import re
import string

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.api_gateway import domain
from services.api_gateway.config import DEFAULT_ROUTES
from services.api_gateway.domain import Bucket, Limit, RouteRule, RulesError

# --- route rules -------------------------------------------------------------------------


def default_table() -> domain.RouteTable:
    return domain.parse_rules(yaml.safe_load(DEFAULT_ROUTES.read_text()))


def doc(routes, rate_limits=None) -> dict:
    return {
        "rate_limits": rate_limits or {"default": {"tenant": {"per_second": 10, "burst": 20}, "key": {"per_second": 1, "burst": 5}}},
        "routes": routes,
    }


def test_the_shipped_routes_cover_every_internal_service():
    table = default_table()
    assert table.services == ["buddy-service", "impact-calculator", "impact-in", "kintell-connector", "privacy-orchestrator",
                              "q2q-ai", "reporting", "safety-moderation", "unified-profile", "upskilling-connector"]
    assert set(table.rate_classes) == {"default", "bulk", "ai"}
    assert table.rate_classes["bulk"].principal == Limit(0.5, 3)


@pytest.mark.parametrize(
    ("path", "service", "upstream", "rate_class"),
    [
        ("/api/kintell/sessions", "kintell-connector", "/v1/sessions", "default"),
        ("/api/kintell/sessions/S-1", "kintell-connector", "/v1/sessions/S-1", "default"),
        ("/api/kintell/import/kintell-sessions", "kintell-connector", "/v1/import/kintell-sessions", "bulk"),
        ("/api/kintell/imports/I-1", "kintell-connector", "/v1/imports/I-1", "default"),  # 'imports' is not 'import'
        ("/api/profiles", "unified-profile", "/v1/profiles", "default"),
        ("/api/profiles/p-1", "unified-profile", "/v1/profiles/p-1", "default"),
        ("/api/profiles/mappings", "unified-profile", "/v1/profiles/mappings", "default"),
        ("/api/buddy/matches", "buddy-service", "/v1/matches", "default"),
        ("/api/upskilling/courses/c/1", "upskilling-connector", "/v1/courses/c/1", "default"),
        ("/api/q2q/classify", "q2q-ai", "/v1/classify", "ai"),
        ("/api/safety/flags/", "safety-moderation", "/v1/flags/", "default"),
        ("/api/kintell", "kintell-connector", "/v1", "default"),
    ],
)
def test_longest_prefix_wins_and_the_prefix_is_rewritten_to_v1(path, service, upstream, rate_class):
    rule = domain.match_route(default_table(), path)
    assert rule is not None
    assert (rule.service, domain.upstream_path(rule, path), rule.rate_class) == (service, upstream, rate_class)


@pytest.mark.parametrize("path", ["/api/profilesx", "/api/kintellish/x", "/api", "/api/", "/api/unknown/x", "/v1/profiles", "/"])
def test_prefixes_match_whole_segments_only(path):
    assert domain.match_route(default_table(), path) is None


def test_roles_per_route():
    table = default_table()
    assert domain.match_route(table, "/api/buddy/x").roles == {"admin", "company_user", "participant"}
    assert domain.match_route(table, "/api/q2q/x").roles == {"admin", "company_user"}


def test_rewrite_to_the_root_keeps_the_rest():
    rule = RouteRule("/api/x", "svc", "/", frozenset({"admin"}))
    assert domain.upstream_path(rule, "/api/x/a/b") == "/a/b"
    assert domain.upstream_path(rule, "/api/x") == "/"


segment = st.text(alphabet=string.ascii_letters + string.digits + "-_~", min_size=1, max_size=8)


@given(st.lists(segment, min_size=1, max_size=3), st.lists(segment, max_size=4), st.lists(segment, min_size=1, max_size=2))
def test_a_path_under_a_prefix_matches_it_and_keeps_its_rest(prefix_parts, rest_parts, rewrite_parts):
    prefix = "/api/" + "/".join(prefix_parts)
    rewrite = "/" + "/".join(rewrite_parts)
    table = domain.parse_rules(doc([{"prefix": prefix, "service": "svc", "rewrite": rewrite, "roles": ["admin"]}]))
    rest = "".join("/" + p for p in rest_parts)
    rule = domain.match_route(table, prefix + rest)
    assert rule is not None and rule.prefix == prefix
    assert domain.upstream_path(rule, prefix + rest) == rewrite + rest
    # the same text without the segment boundary is not under the prefix
    assert domain.match_route(table, prefix + "x" + rest) is None


@given(st.lists(st.lists(segment, min_size=1, max_size=3), min_size=1, max_size=6, unique_by=tuple), st.lists(segment, max_size=3))
def test_the_longest_matching_prefix_is_chosen(prefixes, rest_parts):
    routes = [{"prefix": "/api/" + "/".join(p), "service": f"s{i}", "roles": ["admin"]} for i, p in enumerate(prefixes)]
    table = domain.parse_rules(doc(routes))
    for parts in prefixes:
        path = "/api/" + "/".join(parts) + "".join("/" + p for p in rest_parts)
        rule = domain.match_route(table, path)
        candidates = [r for r in table.rules if path == r.prefix or path.startswith(r.prefix + "/")]
        assert rule == max(candidates, key=lambda r: len(r.prefix))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"routes": []}, "'default' class is required"),
        (doc([]), "non-empty list"),
        (doc([{"prefix": "/v1/x", "service": "s", "roles": ["admin"]}]), "starting with '/api/'"),
        (doc([{"prefix": "/api/a/../b", "service": "s", "roles": ["admin"]}]), "not a plain path"),
        (doc([{"prefix": "/api/a", "service": "S!", "roles": ["admin"]}]), "service name"),
        (doc([{"prefix": "/api/a", "service": "s", "roles": ["root"]}]), "unknown roles root"),
        (doc([{"prefix": "/api/a", "service": "s", "roles": []}]), "non-empty list of roles"),
        (doc([{"prefix": "/api/a", "service": "s", "roles": ["admin"], "rate_class": "gold"}]), "'gold' is not defined"),
        (doc([{"prefix": "/api/a", "service": "s", "roles": ["admin"]}, {"prefix": "/api/a/", "service": "t", "roles": ["admin"]}]),
         "listed twice"),
        (doc([{"prefix": "/api/a", "service": "s", "roles": ["admin"], "timeout": 3}]), "unknown keys timeout"),
        (doc([{"prefix": "/api/a", "service": "s", "roles": ["admin"]}],
             {"default": {"tenant": {"per_second": 0, "burst": 1}, "key": {"per_second": 1, "burst": 1}}}), "positive"),
        (doc([{"prefix": "/api/a", "service": "s", "roles": ["admin"]}],
             {"default": {"tenant": {"per_second": 1, "burst": 1.5}, "key": {"per_second": 1, "burst": 1}}}), "integer"),
        (doc([{"prefix": "/api/a", "service": "s", "roles": ["admin"]}], {"default": {"tenant": {"per_second": 1, "burst": 1}}}),
         "exactly 'tenant' and 'key'"),
        ({**doc([{"prefix": "/api/a", "service": "s", "roles": ["admin"]}]), "extra": 1}, "unknown top-level keys: extra"),
    ],
)
def test_invalid_rules_name_the_entry_and_the_problem(document, message):
    with pytest.raises(RulesError, match=re.escape(message)):
        domain.parse_rules(document)


@pytest.mark.parametrize(
    ("path", "unsafe"),
    [
        ("/api/x/../admin", True), ("/api/./x", True), ("/api/x/..", True), ("/api/x/.", True), ("/api/x\\y", True),
        ("/api/x\x00y", True), ("/api/x\ny", True),
        ("/api/x/..y", False), ("/api/x/.well-known", False), ("/api/x/a.b", False), ("/api/x/", False),
    ],
)
def test_dot_segments_and_control_characters_are_unsafe(path, unsafe):
    assert domain.unsafe_path(path) is unsafe


# --- token bucket ------------------------------------------------------------------------

LIMIT = Limit(per_second=2.0, burst=3)


def test_a_new_bucket_is_full_and_refuses_past_its_burst():
    buckets = [None]
    results = []
    for _ in range(4):
        verdict, buckets = domain.take_all(buckets, [LIMIT], now=100.0)
        results.append(verdict.allowed)
    assert results == [True, True, True, False]
    assert verdict.retry_after == pytest.approx(0.5)  # one token at 2/s


def test_tokens_come_back_at_the_refill_rate_up_to_the_burst():
    assert domain.refill(Bucket(0.0, 0.0), LIMIT, 0.25) == pytest.approx(0.5)
    assert domain.refill(Bucket(0.0, 0.0), LIMIT, 100.0) == 3.0
    assert domain.refill(Bucket(1.0, 10.0), LIMIT, 5.0) == 1.0  # a clock that runs backwards adds nothing


def test_a_refusal_by_one_bucket_spends_no_token_of_the_other():
    tenant, key = Limit(1.0, 10), Limit(1.0, 1)
    verdict, buckets = domain.take_all([None, None], [tenant, key], now=0.0)
    assert verdict.allowed and [b.tokens for b in buckets] == [9.0, 0.0]
    verdict, buckets = domain.take_all(buckets, [tenant, key], now=0.0)
    assert not verdict.allowed and verdict.retry_after == pytest.approx(1.0)
    assert [b.tokens for b in buckets] == [9.0, 0.0]


@pytest.mark.parametrize(("seconds", "header"), [(0.0001, "1"), (0.5, "1"), (1.0, "1"), (1.01, "2"), (59.2, "60")])
def test_retry_after_is_whole_seconds_rounded_up(seconds, header):
    assert domain.retry_after_header(seconds) == header


limits = st.builds(Limit, per_second=st.floats(0.1, 50), burst=st.integers(1, 20))
gaps = st.lists(st.floats(0, 2, allow_nan=False), min_size=1, max_size=60)


@given(limits, gaps)
def test_never_more_than_burst_plus_refill_is_granted(limit, gap_list):
    now, bucket, granted = 0.0, None, 0
    for gap in gap_list:
        now += gap
        verdict, (bucket,) = domain.take_all([bucket], [limit], now)
        assert 0.0 <= bucket.tokens <= limit.burst
        if verdict.allowed:
            granted += 1
        else:
            assert verdict.retry_after > 0
    assert granted <= limit.burst + limit.per_second * now + 1e-6


@given(limits, gaps)
def test_waiting_retry_after_is_enough(limit, gap_list):
    now, bucket = 0.0, None
    for gap in gap_list:
        now += gap
        verdict, (bucket,) = domain.take_all([bucket], [limit], now)
        if not verdict.allowed:
            later, _ = domain.take_all([bucket], [limit], now + verdict.retry_after + 1e-9)
            assert later.allowed


@given(st.lists(limits, min_size=1, max_size=3), gaps)
def test_all_or_nothing(limit_list, gap_list):
    now, buckets = 0.0, [None] * len(limit_list)
    for gap in gap_list:
        now += gap
        before = [domain.refill(b, lim, now) for b, lim in zip(buckets, limit_list, strict=True)]
        verdict, buckets = domain.take_all(buckets, limit_list, now)
        spent = [round(b0 - b.tokens, 9) for b0, b in zip(before, buckets, strict=True)]
        assert spent == ([1.0] * len(limit_list) if verdict.allowed else [0.0] * len(limit_list))


# --- headers -----------------------------------------------------------------------------


def forward(incoming, **kw):
    defaults = dict(correlation_id="corr-1", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01", tracestate=None,
                    client_ip="10.0.0.9", scheme="https", host="gw.example", public_prefix="/api/profiles")
    return domain.request_headers(incoming, **{**defaults, **kw})


def names(headers) -> list[str]:
    return [n.lower() for n, _ in headers]


def test_request_headers_drop_hop_by_hop_and_connection_listed_ones():
    out = forward([
        ("Host", "gw.example"), ("Connection", "keep-alive, X-Internal"), ("Keep-Alive", "timeout=5"), ("X-Internal", "1"),
        ("Transfer-Encoding", "chunked"), ("TE", "trailers"), ("Upgrade", "h2c"), ("Proxy-Authorization", "Basic x"),
        ("Authorization", "Bearer t0k"), ("Accept", "application/json"), ("Content-Length", "12"), ("X-API-Key", "smk_x"),
    ])
    assert ("Authorization", "Bearer t0k") in out  # passed through: services re-verify
    assert ("Accept", "application/json") in out and ("Content-Length", "12") in out
    for gone in ("host", "connection", "keep-alive", "x-internal", "transfer-encoding", "te", "upgrade",
                 "proxy-authorization", "x-api-key"):
        assert gone not in names(out)


def test_request_headers_set_correlation_trace_and_forwarded_chain():
    out = dict(forward([("X-Correlation-Id", "from-client"), ("traceparent", "00-old"), ("X-Forwarded-For", "1.2.3.4")],
                       tracestate="k=v"))
    assert out["x-correlation-id"] == "corr-1"  # the chassis already adopted or created it
    assert out["traceparent"].startswith("00-aaaa") and out["tracestate"] == "k=v"
    assert out["x-forwarded-for"] == "1.2.3.4, 10.0.0.9"
    assert (out["x-forwarded-proto"], out["x-forwarded-host"], out["x-forwarded-prefix"]) == ("https", "gw.example", "/api/profiles")
    assert names(forward([("X-Correlation-Id", "x")])).count("x-correlation-id") == 1


def test_an_api_key_caller_gets_the_gateways_authorization_instead():
    out = forward([("Authorization", "Bearer theirs"), ("X-API-Key", "smk_secret")], authorization="Bearer minted")
    assert [v for n, v in out if n.lower() == "authorization"] == ["Bearer minted"]
    assert "x-api-key" not in names(out)


def test_response_headers_keep_the_body_framing_and_repeated_headers():
    out = domain.response_headers([
        ("content-type", "application/json"), ("content-length", "42"), ("content-encoding", "gzip"),
        ("set-cookie", "a=1"), ("set-cookie", "b=2"), ("connection", "close, x-hop"), ("x-hop", "1"), ("keep-alive", "t=1"),
        ("transfer-encoding", "chunked"), ("date", "Mon"), ("server", "uvicorn"), ("x-correlation-id", "c"), ("etag", '"v1"'),
    ])
    assert out == [("content-type", "application/json"), ("content-length", "42"), ("content-encoding", "gzip"),
                   ("set-cookie", "a=1"), ("set-cookie", "b=2"), ("etag", '"v1"')]


header_name = st.sampled_from(["Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "X-A", "Accept",
                               "Proxy-Connection", "Proxy-Authenticate", "X-Api-Key", "Cookie", "Content-Type"])


@given(st.lists(st.tuples(header_name, st.text(alphabet=string.ascii_letters + ", ", max_size=20)), max_size=12))
def test_no_hop_by_hop_header_survives_either_direction(headers):
    for out in (forward(headers), domain.response_headers(headers)):
        assert not set(names(out)) & domain.HOP_BY_HOP
    kept_request = [h for h in forward(headers) if h[0] in {n for n, _ in headers}]
    assert all(h in headers for h in kept_request)  # nothing is rewritten, only dropped


# --- API keys ----------------------------------------------------------------------------


def test_a_new_key_has_a_visible_prefix_and_only_its_sha256_is_kept():
    issued = domain.new_api_key()
    assert issued.key.startswith(issued.prefix + "_") and issued.prefix.startswith("smk_")
    assert len(issued.prefix) == 16 and len(issued.key) == 16 + 1 + 43
    assert issued.sha256 == hashlib.sha256(issued.key.encode()).hexdigest()
    assert domain.api_key_prefix(issued.key) == issued.prefix
    assert domain.api_key_matches(issued.key, issued.sha256)
    assert domain.new_api_key().key != issued.key


def test_key_minting_is_a_function_of_the_random_bytes():
    issued = domain.new_api_key(lambda n: bytes(range(n)))
    assert issued.prefix == "smk_aaaqeayeauda"
    assert domain.new_api_key(lambda n: bytes(range(n))) == issued


@pytest.mark.parametrize("text", ["", "smk_", "Bearer x", "smk_ABCDEFGHIJKL_" + "a" * 43, "smk_abcdefghijkl_" + "a" * 42,
                                  "sk_abcdefghijkl_" + "a" * 43, "smk_abcdefghijkl_" + "a" * 43 + "\n"])
def test_text_that_is_not_a_key_has_no_prefix(text):
    assert domain.api_key_prefix(text) is None


@settings(max_examples=200)
@given(st.binary(min_size=40, max_size=40), st.integers(0, 59), st.sampled_from("abcXYZ019-_"))
def test_any_changed_character_fails_the_check(seed, position, replacement):
    issued = domain.new_api_key(lambda n, s=iter([seed[:8], seed[8:]]): next(s)[:n].ljust(n, b"\0"))
    assume(issued.key[position] != replacement)
    forged = issued.key[:position] + replacement + issued.key[position + 1:]
    assert not domain.api_key_matches(forged, issued.sha256)


# --- access decision ----------------------------------------------------------------------

STAFF = frozenset({"admin", "company_user"})


@pytest.mark.parametrize(
    ("token_roles", "member_role", "allowed", "platform", "expected"),
    [
        ({"company_user"}, "company_user", STAFF, False, (True, "")),
        ({"admin", "company_user", "operator"}, "admin", STAFF, False, (True, "")),
        ({"operator"}, "company_user", STAFF, False, (True, "")),               # service roles are not judged here
        ({"company_user"}, None, STAFF, False, (False, "not_a_member")),
        ({"admin"}, "participant", STAFF, False, (False, "stale_token_roles")),  # demoted after the token was issued
        ({"company_user"}, "participant", STAFF, False, (False, "stale_token_roles")),
        ({"participant"}, "participant", STAFF, False, (False, "role_not_allowed")),
        ({"participant"}, "admin", STAFF, False, (True, "")),                   # a narrower token is fine
        (None, "participant", STAFF, False, (False, "role_not_allowed")),        # an API key
        (None, "company_user", STAFF, False, (True, "")),
        ({"platform-admin"}, None, STAFF, True, (True, "")),
    ],
)
def test_decide(token_roles, member_role, allowed, platform, expected):
    decision = domain.decide(company="acme", token_roles=frozenset(token_roles) if token_roles is not None else None,
                             member_role=member_role, allowed_roles=allowed, platform_admin=platform)
    assert (decision.allowed, decision.reason) == expected
    if not decision.allowed:
        assert decision.status == 403 and decision.detail


def test_stale_roles_lists_only_the_roles_above_the_membership():
    assert domain.stale_roles({"admin", "company_user", "participant", "reviewer"}, "company_user") == ["admin"]
    assert domain.stale_roles({"admin"}, "admin") == []


@given(st.lists(st.text(max_size=6), min_size=1, max_size=3), st.lists(st.text(max_size=6), min_size=1, max_size=3))
def test_cache_keys_are_unambiguous(a, b):
    assume(a != b)
    assert domain.cache_key(*a) != domain.cache_key(*b)


@pytest.mark.parametrize(("value", "ok"), [("acme", True), ("globex-2", True), ("a_b", True), ("_none", False),
                                           ("Acme", False), ("a", False), ("x" * 64, False)])
def test_company_ids(value, ok):
    assert bool(domain.COMPANY_ID.match(value)) is ok

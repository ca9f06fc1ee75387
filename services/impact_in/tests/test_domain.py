"""Unit tests of the pure parts: mappers and diff, webhook signatures, WS-Security digest and
envelope, breaker state machine, backoff, idempotency keys, secret sealing."""

from __future__ import annotations

import base64
import hashlib
import random
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.impact_in.crypto import SecretBox, mask
from services.impact_in.domain import mappers, retry, soap
from services.impact_in.domain.breaker import CLOSED, HALF_OPEN, OPEN, Breaker
from services.impact_in.domain.signatures import SignatureError, password_digest, sign_benevity, verify_benevity

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
METRICS = {"company_id": "acme", "period": "2026-Q1", "metric_id": "m-1", "sroi_ratio": 3.14159, "social_value": 31415.926,
           "investment": 10000.0, "vis_score": 72.456, "config_version": "2026.1", "computed_at": "2026-03-01T10:00:00Z"}


# -- mappers -------------------------------------------------------------------------------

def test_benevity_payload_carries_key_company_and_rounded_metrics():
    p = mappers.to_benevity(METRICS, {"company_ref": "BNV-77"}, "k1")
    assert p["externalReference"] == "k1" and p["companyId"] == "BNV-77" and p["reportingPeriod"] == "2026-Q1"
    by_type = {m["type"]: m for m in p["metrics"]}
    assert by_type["SOCIAL_VALUE"] == {"type": "SOCIAL_VALUE", "value": 31415.93, "unit": "EUR"}
    assert by_type["SROI_RATIO"]["value"] == 3.1416 and by_type["VOLUNTEER_IMPACT_SCORE"]["value"] == 72.46
    assert p["source"]["metricId"] == "m-1"


def test_benevity_omits_sroi_and_investment_while_unknown():
    p = mappers.to_benevity(METRICS | {"sroi_ratio": None, "investment": None}, {}, "k1")
    assert {m["type"] for m in p["metrics"]} == {"SOCIAL_VALUE", "VOLUNTEER_IMPACT_SCORE"}
    assert p["companyId"] == "acme"


def test_goodera_and_workday_payloads():
    g = mappers.to_goodera(METRICS, {"currency": "USD"}, "k2")
    assert g["client_reference_id"] == "k2" and g["impact"]["social_value"] == {"amount": 31415.93, "currency": "USD"}
    assert mappers.to_goodera(METRICS | {"investment": None}, {}, "k")["impact"]["investment"] is None
    w = mappers.to_workday(METRICS, {}, "k3")
    assert w["External_Reference_ID"] == "k3" and w["SROI_Ratio"] == 3.1416 and w["Currency"] == "EUR"


def test_mapping_is_deterministic_so_a_replay_sends_the_same_bytes():
    for platform in mappers.PLATFORMS:
        assert mappers.map_payload(platform, dict(METRICS), {}, "k") == mappers.map_payload(platform, dict(METRICS), {}, "k")


def test_diff_reports_changed_added_removed_fields_with_paths():
    before = mappers.to_benevity(METRICS | {"sroi_ratio": None}, {}, "k")
    after = mappers.to_benevity(METRICS | {"social_value": 40000.0}, {}, "k")
    changes = {c["path"]: c for c in mappers.diff(before, after)}
    assert changes["metrics[SOCIAL_VALUE].value"] == {"path": "metrics[SOCIAL_VALUE].value", "change": "changed",
                                                      "before": 31415.93, "after": 40000.0}
    assert changes["metrics[SROI_RATIO].value"] == {"path": "metrics[SROI_RATIO].value", "change": "added",
                                                    "before": None, "after": 3.1416}
    assert "metrics[INVESTMENT].value" not in changes  # matched by type, not shifted by position
    assert mappers.diff(after, after) == []
    assert all(c["change"] == "added" for c in mappers.diff(None, after))
    assert mappers.diff({"a": 1, "b": 2}, {"a": 1})[0] == {"path": "b", "change": "removed", "before": 2, "after": None}


# -- Benevity webhook signatures -----------------------------------------------------------

BODY = b'{"id":"wh_1","type":"impact.status","data":{"externalReference":"k","status":"accepted"}}'


def test_valid_signature_is_accepted():
    header = sign_benevity("s3cret", int(T0.timestamp()), BODY)
    assert verify_benevity("s3cret", header, BODY, now=T0, tolerance_seconds=300) == int(T0.timestamp())


def test_signature_matches_an_independent_hmac():
    import hmac as std_hmac

    mac = std_hmac.new(b"s3cret", f"{int(T0.timestamp())}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign_benevity("s3cret", int(T0.timestamp()), BODY) == f"t={int(T0.timestamp())},v1={mac}"


@pytest.mark.parametrize("header, reason", [
    (None, "missing"), ("", "missing"), ("v1=abc", "malformed"), ("t=123", "malformed"), ("t=x,v1=ab", "malformed"),
])
def test_missing_or_malformed_signature_is_rejected(header, reason):
    with pytest.raises(SignatureError, match=reason):
        verify_benevity("s3cret", header, BODY, now=T0, tolerance_seconds=300)


def test_wrong_secret_tampered_body_and_old_timestamp_are_rejected():
    t = int(T0.timestamp())
    with pytest.raises(SignatureError, match="match"):
        verify_benevity("s3cret", sign_benevity("other", t, BODY), BODY, now=T0, tolerance_seconds=300)
    with pytest.raises(SignatureError, match="match"):
        verify_benevity("s3cret", sign_benevity("s3cret", t, BODY), BODY + b" ", now=T0, tolerance_seconds=300)
    old = sign_benevity("s3cret", t - 301, BODY)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_benevity("s3cret", old, BODY, now=T0, tolerance_seconds=300)
    assert verify_benevity("s3cret", sign_benevity("s3cret", t - 299, BODY), BODY, now=T0, tolerance_seconds=300)
    with pytest.raises(SignatureError, match="tolerance"):  # from the future too
        verify_benevity("s3cret", sign_benevity("s3cret", t + 301, BODY), BODY, now=T0, tolerance_seconds=300)


def test_rolled_secret_one_of_several_v1_values_matches():
    t = int(T0.timestamp())
    good = sign_benevity("new", t, BODY).split("v1=")[1]
    assert verify_benevity("new", f"t={t},v1=deadbeef,v1={good}", BODY, now=T0, tolerance_seconds=300)


# -- WS-Security ---------------------------------------------------------------------------

def test_password_digest_matches_the_oasis_formula():
    nonce, created = b"\x01" * 16, "2026-03-01T12:00:00.000Z"
    expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + b"pw").digest()).decode()
    assert password_digest(nonce, created, "pw") == expected
    assert password_digest(nonce, created, "pw2") != expected


def test_envelope_holds_username_token_and_body_fields():
    nonce = b"n" * 16
    xml = soap.build_envelope({"Period": "2026-Q1", "SROI_Ratio": None, "Social_Value": 1.5}, username="u@t",
                              password="pw", nonce=nonce, created="2026-03-01T12:00:00.000Z")
    root = ET.fromstring(xml)
    ns = {"s": soap.SOAP_NS, "wsse": soap.WSSE_NS, "wsu": soap.WSU_NS, "b": soap.BSVC_NS}
    token = root.find("s:Header/wsse:Security/wsse:UsernameToken", ns)
    assert token.findtext("wsse:Username", namespaces=ns) == "u@t"
    assert token.find("wsse:Password", ns).get("Type").endswith("#PasswordDigest")
    assert token.findtext("wsse:Password", namespaces=ns) == password_digest(nonce, "2026-03-01T12:00:00.000Z", "pw")
    assert base64.b64decode(token.findtext("wsse:Nonce", namespaces=ns)) == nonce
    assert token.findtext("wsu:Created", namespaces=ns) == "2026-03-01T12:00:00.000Z"
    data = root.find("s:Body/b:Put_Impact_Metrics_Request/b:Impact_Metrics_Data", ns)
    assert [el.tag.split("}")[1] for el in data] == ["Period", "Social_Value"]  # None fields are left out
    assert b"pw<" not in xml  # the password itself never travels


def test_soap_faults_are_parsed_and_classified():
    fault = (f'<e:Envelope xmlns:e="{soap.SOAP_NS}"><e:Body><e:Fault><faultcode>wsse:FailedAuthentication</faultcode>'
             '<faultstring>bad</faultstring></e:Fault></e:Body></e:Envelope>').encode()
    with pytest.raises(soap.SoapFault) as err:
        soap.parse_response(fault)
    assert err.value.code == "wsse:FailedAuthentication" and err.value.is_client_fault
    assert not soap.SoapFault("SOAP-ENV:Server", "x").is_client_fault
    ok = f'<e:Envelope xmlns:e="{soap.SOAP_NS}"><e:Body><r><ID>WD-1</ID></r></e:Body></e:Envelope>'.encode()
    assert soap.parse_response(ok)["ID"] == "WD-1"
    with pytest.raises(ValueError):
        soap.parse_response(b"<html>oops</html>")


# -- circuit breaker -----------------------------------------------------------------------

def test_breaker_opens_after_k_failures_then_half_opens_and_closes():
    b = Breaker(threshold=3, cooldown=timedelta(seconds=60))
    for _ in range(2):
        assert b.allow(T0)
        b.record_failure(T0)
    assert b.state == CLOSED
    b.record_failure(T0)
    assert b.state == OPEN and not b.allow(T0 + timedelta(seconds=59))
    assert b.retry_at(T0) == T0 + timedelta(seconds=60)
    assert b.allow(T0 + timedelta(seconds=60)) and b.state == HALF_OPEN
    assert not b.allow(T0 + timedelta(seconds=60))  # one trial at a time
    b.record_success()
    assert b.state == CLOSED and b.failures == 0 and b.allow(T0 + timedelta(seconds=61))


def test_failed_trial_reopens_and_success_resets_the_count():
    b = Breaker(threshold=2, cooldown=timedelta(seconds=10))
    b.record_failure(T0)
    b.record_success()
    b.record_failure(T0)
    assert b.state == CLOSED  # not consecutive
    b.record_failure(T0)
    assert b.state == OPEN
    assert b.allow(T0 + timedelta(seconds=10))
    b.record_failure(T0 + timedelta(seconds=10))
    assert b.state == OPEN and not b.allow(T0 + timedelta(seconds=19)) and b.allow(T0 + timedelta(seconds=20))
    b.release()
    assert b.allow(T0 + timedelta(seconds=20))  # a released trial lets the next one through


def test_breaker_view():
    b = Breaker(threshold=1, cooldown=timedelta(seconds=10))
    b.record_failure(T0)
    assert b.view(T0)["state"] == OPEN and b.view(T0)["retry_at"] == (T0 + timedelta(seconds=10)).isoformat()
    assert b.view(T0 + timedelta(seconds=11))["state"] == HALF_OPEN


# -- backoff and keys ----------------------------------------------------------------------

def test_backoff_grows_exponentially_within_jitter_bounds_and_is_capped():
    rng = random.Random(1)
    for attempt, exp in [(1, 5), (2, 10), (3, 20), (4, 40)]:
        delay = retry.backoff_seconds(attempt, base=5, cap=1000, rng=rng)
        assert exp / 2 <= delay <= exp
    assert retry.backoff_seconds(30, base=5, cap=100, rng=rng) <= 100


def test_backoff_is_deterministic_with_a_seeded_rng():
    a = [retry.backoff_seconds(n, base=2, cap=60, rng=random.Random(7)) for n in range(1, 6)]
    b = [retry.backoff_seconds(n, base=2, cap=60, rng=random.Random(7)) for n in range(1, 6)]
    assert a == b


@given(st.integers(min_value=1, max_value=60), st.floats(min_value=0.01, max_value=100), st.floats(min_value=1, max_value=1e5))
def test_backoff_never_exceeds_the_cap(attempt, base, cap):
    assert 0 < retry.backoff_seconds(attempt, base=base, cap=cap) <= cap


def test_idempotency_key_is_stable_and_specific():
    k = retry.idempotency_key("acme", "benevity", "m-1", T0)
    assert k == retry.idempotency_key("acme", "benevity", "m-1", T0)
    others = {retry.idempotency_key("globex", "benevity", "m-1", T0), retry.idempotency_key("acme", "goodera", "m-1", T0),
              retry.idempotency_key("acme", "benevity", "m-2", T0),
              retry.idempotency_key("acme", "benevity", "m-1", T0 + timedelta(seconds=1))}
    assert k not in others and len(others) == 4


# -- secrets -------------------------------------------------------------------------------

def test_secret_box_round_trip_and_binding_to_the_connection():
    box = SecretBox("key-1")
    blob = box.seal({"api_key": "abc"}, tenant="acme", platform="benevity")
    assert b"abc" not in blob
    assert box.open(blob, tenant="acme", platform="benevity") == {"api_key": "abc"}
    with pytest.raises(Exception):  # noqa: B017 - InvalidTag
        box.open(blob, tenant="globex", platform="benevity")
    with pytest.raises(Exception):  # noqa: B017
        SecretBox("key-2").open(blob, tenant="acme", platform="benevity")
    assert mask("abc") == "********" and mask(None) is None

"""Pure state transitions and the key wrapping (no I/O)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st

from services.privacy_orchestrator import config, crypto, domain
from services.privacy_orchestrator.domain import DELETION, EXPORT, Holder

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RETRY = {"max_attempts": 3, "base_seconds": 60, "max_seconds": 600}


def holder(status="pending", attempt=1, exhausted=False, service="a"):
    return Holder(service=service, status=status, attempt=attempt, requested_at=T0, exhausted=exhausted)


def test_an_ok_answer_settles_a_holder_and_a_duplicate_changes_nothing():
    ok = domain.apply_answer(holder(), status="ok", attempt=1, max_attempts=3)
    assert ok.status == "ok" and not ok.exhausted
    assert domain.apply_answer(ok, status="ok", attempt=1, max_attempts=3) is None
    assert domain.apply_answer(ok, status="failed", attempt=2, max_attempts=3) is None  # ok is final


def test_a_failure_is_recorded_once_and_a_stale_failure_is_ignored():
    failed = domain.apply_answer(holder(), status="failed", attempt=1, max_attempts=3)
    assert failed.status == "failed" and not failed.exhausted
    assert domain.apply_answer(failed, status="failed", attempt=1, max_attempts=3) is None
    in_flight = holder(attempt=2)
    assert domain.apply_answer(in_flight, status="failed", attempt=1, max_attempts=3) is None
    assert domain.apply_answer(in_flight, status="ok", attempt=1, max_attempts=3).status == "ok"  # a late ok still counts


def test_a_failure_on_the_last_attempt_exhausts_the_holder():
    assert domain.apply_answer(holder(attempt=3), status="failed", attempt=3, max_attempts=3).exhausted


@pytest.mark.parametrize(("kind", "holders", "expected"), [
    (EXPORT, [holder("ok"), holder("ok", service="b")], "complete"),
    (EXPORT, [holder("ok"), holder("pending", service="b")], "collecting"),
    (DELETION, [holder("ok"), holder("failed", service="b")], "executing"),
    (DELETION, [holder("ok"), holder("failed", exhausted=True, service="b")], "partially_failed"),
    (DELETION, [holder("pending"), holder("failed", exhausted=True, service="b")], "partially_failed"),
    (EXPORT, [], "complete"),
])
def test_request_status_is_complete_only_when_every_holder_is_ok(kind, holders, expected):
    assert domain.request_status(kind, holders) == expected


def test_backoff_doubles_and_is_capped():
    waits = [domain.backoff(n, base_seconds=60, max_seconds=600).total_seconds() for n in range(1, 6)]
    assert waits == [60, 120, 240, 480, 600]


def test_retry_waits_for_the_backoff_then_retries_then_gives_up():
    late = holder(attempt=1)
    assert domain.retry_decision(late, T0 + timedelta(seconds=59), **RETRY) is None
    assert domain.retry_decision(late, T0 + timedelta(seconds=60), **RETRY) == "retry"
    again = domain.retried(late, T0 + timedelta(seconds=60))
    assert (again.attempt, again.status, again.requested_at) == (2, "pending", T0 + timedelta(seconds=60))
    assert domain.retry_decision(holder("failed", attempt=3), T0 + timedelta(hours=1), **RETRY) == "give_up"
    assert domain.gave_up(holder("failed", attempt=3)).exhausted
    assert domain.retry_decision(holder("ok"), T0 + timedelta(days=9), **RETRY) is None
    assert domain.retry_decision(holder("failed", exhausted=True), T0 + timedelta(days=9), **RETRY) is None


def test_deletion_is_due_only_after_the_window_and_cancellable_only_inside_it():
    end = domain.execute_after(T0, 30)
    assert end == T0 + timedelta(days=30)
    assert not domain.deletion_due("scheduled", end, end - timedelta(seconds=1))
    assert domain.deletion_due("scheduled", end, end)
    assert not domain.deletion_due("cancelled", end, end + timedelta(days=1))
    assert domain.can_cancel("scheduled", end, end - timedelta(seconds=1))
    assert not domain.can_cancel("scheduled", end, end)
    assert not domain.can_cancel("executing", end, T0)
    assert domain.deletion_due("scheduled", domain.execute_after(T0, 0), T0)  # a zero window is due at once


def test_bundle_state_follows_status_and_expiry():
    expires = domain.export_expires_at(T0, 30)
    assert domain.bundle_state("complete", expires, expires - timedelta(seconds=1)) == "ready"
    assert domain.bundle_state("complete", expires, expires) == "expired"
    assert domain.bundle_state("expired", None, T0) == "expired"
    assert domain.bundle_state("collecting", None, T0) == "not_ready"
    assert domain.bundle_state("partially_failed", None, T0) == "not_ready"


def test_bundle_holds_every_service_and_the_subject():
    bundle = json.loads(domain.build_bundle("j1", {"refs": []}, T0, {"b": {"x": [1]}, "a": {"y": []}}))
    assert bundle == {"job_id": "j1", "subject": {"refs": []}, "generated_at": T0.isoformat(),
                      "services": {"a": {"y": []}, "b": {"x": [1]}}}


@given(st.binary(max_size=2048), st.text(min_size=1, max_size=40))
def test_bundle_encryption_round_trips_and_is_bound_to_its_job(bundle, job_id):
    kek = config.PrivacySettings().keyring
    ciphertext, wrapped, digest = crypto.encrypt_bundle(kek, job_id, bundle)
    assert crypto.decrypt_bundle(kek, job_id, ciphertext, wrapped) == bundle
    assert digest == crypto.sha256_hex(bundle)
    with pytest.raises(InvalidTag):
        crypto.decrypt_bundle(kek, job_id + "x", ciphertext, wrapped)


def test_wrapped_keys_need_the_right_kek_and_context():
    kek, other = crypto.Keyring(bytes(32)), crypto.Keyring(bytes([1]) * 32, previous=[bytes([2]) * 32])
    blob = crypto.wrap_job_key(kek, "j1", b"private")
    assert crypto.unwrap_job_key(kek, "j1", blob) == b"private"
    with pytest.raises(crypto.UnknownKeyError):
        crypto.unwrap_job_key(other, "j1", blob)
    with pytest.raises(InvalidTag):
        crypto.open_subject(kek, "j1", blob)  # a job key is not a subject
    assert b"private" not in blob


def test_a_rotated_master_key_still_opens_what_the_previous_one_wrapped():
    old, new = bytes([3]) * 32, bytes([4]) * 32
    blob = crypto.seal_subject(crypto.Keyring(old), "r1", b'{"refs": []}')
    rotated = crypto.Keyring(new, previous=[old])
    assert crypto.open_subject(rotated, "r1", blob) == b'{"refs": []}'
    fresh = crypto.seal_subject(rotated, "r1", b"x")
    assert fresh[:crypto.KEY_ID_BYTES] == crypto.key_id(new)  # new blobs use the new key
    with pytest.raises(crypto.UnknownKeyError):
        crypto.open_subject(crypto.Keyring(new), "r1", blob)  # the old key removed too early: a clear error
    settings = config.PrivacySettings(master_key=base64.b64encode(new).decode(),
                                      previous_master_keys=base64.b64encode(old).decode())
    assert crypto.open_subject(settings.keyring, "r1", blob) == b'{"refs": []}'


def test_settings_reject_a_master_key_that_is_not_32_bytes():
    with pytest.raises(ValueError, match="32 bytes"):
        config.PrivacySettings(master_key="c2hvcnQ=")
    assert config.PrivacySettings(holders=" b, a,,a ").holder_names() == ("a", "b")
    assert config.PrivacySettings().holder_names() is None


def test_default_holders_are_the_discovered_services_that_declare_personal_data():
    from summit_common.catalog import discover_services

    found = discover_services()
    holders = config._discovered_holders()
    assert "privacy-orchestrator" not in holders
    assert set(holders) == {n for n, s in found.items() if s.personal_data is not None} - {"privacy-orchestrator"}

"""The policy holder: reload on a content-hash change (checked at most every N seconds) and
on demand; an invalid file never replaces the active policy. A fake clock, a temp file."""

from __future__ import annotations

import pytest

from services.safety_moderation import domain, policy
from services.safety_moderation.config import DEFAULT_POLICY_PATH, SafetySettings
from tests.helpers import ManualClock

V1 = "rules:\n  - {id: w, category: abuse, severity: low, action: flag, keywords: [alpha]}\n"
V2 = "rules:\n  - {id: w, category: abuse, severity: high, action: hold, keywords: [alpha, beta]}\n"
BROKEN = "rules:\n  - {id: w, category: abuse, severity: extreme, action: flag, keywords: [alpha]}\n"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1000.0)


@pytest.fixture
def file(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    return path


def make(file, clock, check_seconds: float = 10) -> policy.PolicyHolder:
    return policy.PolicyHolder(file, check_seconds=check_seconds, clock=clock)


async def test_the_file_is_loaded_at_start_and_versioned_by_its_hash(file, clock):
    holder = make(file, clock)
    assert holder.policy.version == domain.policy_version(V1.encode())
    assert (await holder.current()).rules[0].severity == "low"
    assert holder.status()["policy_version"] == holder.policy.version and holder.status()["last_error"] is None


async def test_a_changed_file_is_picked_up_after_the_check_interval_only(file, clock):
    holder = make(file, clock, check_seconds=10)
    file.write_text(V2)
    clock.now += 9
    assert (await holder.current()).version == domain.policy_version(V1.encode())  # not checked yet
    clock.now += 1
    assert (await holder.current()).version == domain.policy_version(V2.encode())
    assert domain.screen(holder.policy, "beta").outcome == "held"


async def test_an_invalid_edit_keeps_the_active_policy_until_the_file_is_fixed(file, clock):
    holder = make(file, clock, check_seconds=0)
    file.write_text(BROKEN)
    assert (await holder.current()).version == domain.policy_version(V1.encode())
    assert holder.last_error and "severity" in holder.last_error[0]
    file.write_text(V2)
    assert (await holder.current()).version == domain.policy_version(V2.encode())
    assert holder.last_error is None


async def test_reverting_a_bad_edit_to_the_active_content_clears_the_error(file, clock):
    holder = make(file, clock, check_seconds=0)
    file.write_text(BROKEN)
    await holder.current()
    file.write_text(V1)
    await holder.current()
    assert holder.last_error is None and holder.policy.version == domain.policy_version(V1.encode())


async def test_a_missing_file_keeps_the_active_policy(file, clock):
    holder = make(file, clock, check_seconds=0)
    file.unlink()
    assert (await holder.current()).version == domain.policy_version(V1.encode())
    assert "cannot read the policy file" in holder.last_error[0]


async def test_reload_reports_changed_or_unchanged(file, clock):
    holder = make(file, clock, check_seconds=3600)
    unchanged = await holder.reload()
    assert not unchanged.changed and unchanged.previous_version == unchanged.policy.version
    file.write_text(V2)
    changed = await holder.reload()
    assert changed.changed and changed.previous_version == domain.policy_version(V1.encode())
    assert holder.policy.version == domain.policy_version(V2.encode())


async def test_reload_of_an_invalid_or_missing_file_raises_and_keeps_the_active_policy(file, clock):
    holder = make(file, clock, check_seconds=3600)
    file.write_text(BROKEN)
    with pytest.raises(domain.PolicyError, match="severity"):
        await holder.reload()
    assert holder.policy.version == domain.policy_version(V1.encode())
    file.unlink()
    with pytest.raises(domain.PolicyError, match="cannot read"):
        await holder.reload()
    assert holder.policy.version == domain.policy_version(V1.encode())


def test_an_invalid_policy_fails_the_start(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BROKEN)
    with pytest.raises(domain.PolicyError):
        policy.PolicyHolder(bad)
    with pytest.raises(domain.PolicyError, match="cannot read"):
        policy.PolicyHolder(tmp_path / "missing.yaml")


def test_settings_come_from_the_environment(monkeypatch, file):
    monkeypatch.setenv("SAFETY_POLICY_PATH", str(file))
    monkeypatch.setenv("SAFETY_POLICY_CHECK_SECONDS", "2.5")
    settings = SafetySettings()
    assert (settings.policy_path, settings.policy_check_seconds) == (file, 2.5)
    try:
        holder = policy.configure()
        assert policy.holder() is holder and holder.path == file and holder.check_seconds == 2.5
    finally:
        policy.configure(SafetySettings(policy_path=DEFAULT_POLICY_PATH, policy_check_seconds=10))

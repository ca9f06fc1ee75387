"""The active content policy of this process, re-read from its file without a restart.

`PolicyHolder` keeps the compiled policy. `current()` (called for every screening) re-checks
the file at most every `check_seconds`: when the sha256 of its bytes differs from the active
version the file is parsed and, if valid, swapped in; an invalid file is logged once per
distinct content and the active policy stays in force. `reload()` (POST /v1/policy/reload)
does the same at once and reports what happened, raising PolicyError for an invalid file.

One holder per process (handlers get no runtime object, and the policy is platform-wide):
`holder()` builds it from SafetySettings (env SAFETY_*) on first use; `configure()` replaces
it (tests point it at a temporary file). Replicas each watch the file; with the file in a
ConfigMap they converge within `check_seconds` of each other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.safety_moderation import domain
from services.safety_moderation.config import SafetySettings
from summit_common.logs import get_logger

log = get_logger(component="safety-policy")
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class ReloadResult:
    policy: domain.Policy
    previous_version: str
    changed: bool


def _read(path: Path) -> bytes:
    return path.read_bytes()


def load_file(path: Path) -> domain.Policy:
    """Read and parse a policy file; PolicyError when it is missing, unreadable or invalid."""
    try:
        raw = _read(path)
    except OSError as exc:
        raise domain.PolicyError([f"cannot read the policy file {path}: {exc.strerror or exc}"]) from None
    return domain.parse_policy(raw)


class PolicyHolder:
    def __init__(self, path: Path, *, check_seconds: float = 10.0, excerpt_chars: int = 120,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.check_seconds = check_seconds
        self.excerpt_chars = excerpt_chars
        self._clock = clock
        self._policy = load_file(self.path)  # a broken policy fails the start, not the first event
        self._checked_at = clock()
        self.loaded_at = datetime.now(UTC)
        self.last_error: list[str] | None = None
        self._rejected_version: str | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: SafetySettings) -> PolicyHolder:
        return cls(settings.policy_path, check_seconds=settings.policy_check_seconds,
                   excerpt_chars=settings.excerpt_chars)

    @property
    def policy(self) -> domain.Policy:
        return self._policy

    async def current(self) -> domain.Policy:
        """The policy to screen with, after a hash check if the last one is old enough."""
        if self._clock() - self._checked_at >= self.check_seconds:
            async with self._lock:
                if self._clock() - self._checked_at >= self.check_seconds:
                    await self._check()
        return self._policy

    async def _check(self) -> None:
        self._checked_at = self._clock()
        try:
            raw = await asyncio.to_thread(_read, self.path)
        except OSError as exc:
            self._reject(UNREADABLE, [f"cannot read the policy file {self.path}: {exc.strerror or exc}"])
            return
        version = domain.policy_version(raw)
        if version == self._policy.version:  # unchanged, or back to the active content after a bad edit
            self.last_error, self._rejected_version = None, None
            return
        if version == self._rejected_version:
            return
        try:
            policy = domain.parse_policy(raw)
        except domain.PolicyError as exc:
            self._reject(version, list(exc.errors))
            return
        self._swap(policy, trigger="file_changed")

    def _reject(self, version: str, errors: list[str]) -> None:
        """Remember why the file was refused; log it once per distinct content."""
        if version != self._rejected_version:
            log.error("policy_rejected", path=str(self.path), rejected_version=version,
                      active_version=self._policy.version, errors=errors[:10])
        self._rejected_version = version
        self.last_error = errors

    def _swap(self, policy: domain.Policy, *, trigger: str) -> None:
        previous = self._policy.version
        self._policy = policy
        self.loaded_at = datetime.now(UTC)
        self.last_error = None
        self._rejected_version = None
        log.info("policy_loaded", path=str(self.path), policy_version=policy.version, previous_version=previous,
                 rules=len(policy.rules), trigger=trigger)

    async def reload(self) -> ReloadResult:
        """Re-read the file now. Raises PolicyError (and keeps the active policy) when it is invalid."""
        async with self._lock:
            self._checked_at = self._clock()
            previous = self._policy.version
            try:
                raw = await asyncio.to_thread(_read, self.path)
            except OSError as exc:
                errors = [f"cannot read the policy file {self.path}: {exc.strerror or exc}"]
                self._reject(UNREADABLE, errors)
                raise domain.PolicyError(errors) from None
            try:
                policy = domain.parse_policy(raw)
            except domain.PolicyError as exc:
                self._reject(domain.policy_version(raw), list(exc.errors))
                raise
            if policy.version == previous:
                return ReloadResult(self._policy, previous, changed=False)
            self._swap(policy, trigger="reload")
            return ReloadResult(policy, previous, changed=True)

    def status(self) -> dict:
        return {
            **self._policy.summary(),
            "path": str(self.path),
            "loaded_at": self.loaded_at.isoformat(),
            "check_seconds": self.check_seconds,
            "last_error": self.last_error,
        }


_holder: PolicyHolder | None = None


def holder() -> PolicyHolder:
    global _holder
    if _holder is None:
        _holder = PolicyHolder.from_settings(SafetySettings())
    return _holder


def configure(settings: SafetySettings | None = None) -> PolicyHolder:
    """Replace the process's holder (from `settings`, else from the environment)."""
    global _holder
    _holder = PolicyHolder.from_settings(settings or SafetySettings())
    return _holder

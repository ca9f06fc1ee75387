"""Compatibility modes, as the Confluent Schema Registry defines them.

* BACKWARD: the new schema can read data written with the latest registered version.
* FORWARD: data written with the new schema can be read with the latest version.
* FULL: both.
* *_TRANSITIVE: the same check against EVERY registered version, not only the latest.
* NONE: no check.

A change passes BACKWARD when its ``backward`` flag is set, FORWARD when ``forward`` is,
FULL when both are. A candidate passes a mode when every change against every version the
mode looks at passes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.schema_council.diff.model import Change


class Mode(enum.StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")

    @property
    def base(self) -> Mode:
        return Mode(self.value.removesuffix("_TRANSITIVE"))

    @classmethod
    def parse(cls, value: str) -> Mode:
        try:
            return cls(value.strip().upper())
        except ValueError:
            raise ValueError(f"unknown compatibility mode {value!r}; use one of {', '.join(m.value for m in cls)}") from None


def change_passes(change: Change, mode: Mode) -> bool:
    base = mode.base
    if base is Mode.NONE:
        return True
    if base is Mode.BACKWARD:
        return change.backward
    if base is Mode.FORWARD:
        return change.forward
    return change.backward and change.forward


@dataclass(frozen=True)
class VersionDiff:
    """The changes from one registered version (``version``, oldest first) to the candidate."""

    version: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Violation:
    version: str
    change: Change

    def as_dict(self) -> dict[str, Any]:
        return {"against_version": self.version, **self.change.as_dict()}


@dataclass(frozen=True)
class Verdict:
    mode: Mode
    compatible: bool
    checked_versions: tuple[str, ...]
    violations: tuple[Violation, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "compatible": self.compatible,
            "checked_versions": list(self.checked_versions),
            "violations": [v.as_dict() for v in self.violations],
        }


def assess(diffs: Sequence[VersionDiff], mode: Mode) -> Verdict:
    """The verdict of `mode` given the diffs from each registered version (oldest first) to the
    candidate. Without registered versions everything is compatible (a new contract)."""
    targets = list(diffs) if mode.transitive else list(diffs[-1:])
    if mode is Mode.NONE:
        targets = []
    violations = tuple(
        Violation(d.version, c) for d in targets for c in d.changes if not change_passes(c, mode)
    )
    return Verdict(mode=mode, compatible=not violations, checked_versions=tuple(d.version for d in targets),
                   violations=violations)


def version_diffs(history: Sequence[tuple[str, Any]], candidate: Any,
                  differ: Callable[[Any, Any], list[Change]]) -> list[VersionDiff]:
    """Diff every registered version (label, document), oldest first, against the candidate."""
    return [VersionDiff(label, tuple(differ(document, candidate))) for label, document in history]


def all_modes(diffs: Sequence[VersionDiff]) -> dict[str, bool]:
    """Which modes the candidate passes (NONE always does)."""
    return {mode.value: assess(diffs, mode).compatible for mode in Mode}

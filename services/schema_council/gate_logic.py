"""The contract gate's pure logic: the published baseline, the allow-list, the check, the
baseline update and the report text. `gate.py` does the I/O around it.

Baseline file (``baseline/events.json``, written by ``gate --update-baseline``)::

    {"format": 1,
     "default_compatibility": "BACKWARD_TRANSITIVE",
     "contracts": {
        "buddy.checkin.completed.v1": {
            "owner": "buddy-service",
            "compatibility": "FULL_TRANSITIVE",          # optional per-contract override
            "versions": [{"version": 1, "fingerprint": "sha256:...", "schema": {...}}, ...]}}}

Every published schema of a contract is kept (oldest first), so TRANSITIVE modes check the
current schema against all of them. An accepted (allow-listed) break starts a new history:
the update keeps only the new version, and the allow-list entry can then be deleted.

Allow-list (``baseline/allowlist.yaml``)::

    exceptions:
      - contract: buddy.checkin.completed.v1
        change: field_renamed:$.checkin_id     # '<kind>:<path>' or just '<kind>'
        reason: nothing consumes it yet; agreed with the buddy team
        expires: 2025-12-31                    # optional; after it the entry no longer applies
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.schema_council.diff import ChangeKind, DiffError, Mode, assess, jsonschema, version_diffs
from services.schema_council.diff.compat import Violation
from services.schema_council.diff.model import Change, change

FORMAT = 1
DEFAULT_MODE = Mode.BACKWARD_TRANSITIVE
ALLOW_KEYS = {"contract", "change", "reason", "expires"}


class ConfigError(ValueError):
    """The baseline or the allow-list is malformed (exit code 2)."""


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(schema: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical(schema).encode()).hexdigest()


# --- allow-list --------------------------------------------------------------------------


@dataclass(frozen=True)
class AllowEntry:
    index: int
    contract: str
    change: str
    reason: str
    expires: date | None = None

    def matches(self, contract: str, c: Change) -> bool:
        return contract == self.contract and self.change in (c.id, str(c.kind))

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires

    def describe(self) -> str:
        return f"allow-list entry {self.index} ({self.contract} {self.change})"


def parse_allowlist(data: Any) -> list[AllowEntry]:
    """The entries of a parsed allow-list file; ConfigError listing every problem."""
    if data is None:
        return []
    if not isinstance(data, dict) or set(data) - {"exceptions"}:
        raise ConfigError("the allow-list must be a mapping with one key, 'exceptions', holding a list")
    raw = data.get("exceptions") or []
    if not isinstance(raw, list):
        raise ConfigError("'exceptions' must be a list")
    kinds = {str(k) for k in ChangeKind}
    entries: list[AllowEntry] = []
    errors: list[str] = []
    for i, item in enumerate(raw, start=1):
        problems = _entry_problems(item, kinds)
        if problems:
            contract = item.get("contract") if isinstance(item, dict) else None
            where = f"allow-list entry {i}" + (f" ({contract})" if isinstance(contract, str) else "")
            errors += [f"{where}: {p}" for p in problems]
            continue
        expires = item.get("expires")
        if expires is not None and not isinstance(expires, date):
            expires = date.fromisoformat(str(expires))
        entries.append(AllowEntry(i, item["contract"].strip(), item["change"].strip(), item["reason"].strip(), expires))
    if errors:
        raise ConfigError("\n".join(errors))
    return entries


def _entry_problems(item: Any, kinds: set[str]) -> list[str]:
    if not isinstance(item, dict):
        return ["must be a mapping with contract, change, reason (and optionally expires)"]
    problems = []
    unknown = set(item) - ALLOW_KEYS
    if unknown:
        problems.append(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    contract = item.get("contract")
    if not isinstance(contract, str) or not contract.strip():
        problems.append("'contract' is required (the event type, e.g. buddy.checkin.completed.v1)")
    change_ref = item.get("change")
    if not isinstance(change_ref, str) or not change_ref.strip():
        problems.append("'change' is required ('<kind>:<path>' as the gate prints it, or '<kind>')")
    elif change_ref.strip().split(":", 1)[0] not in kinds:
        problems.append(f"unknown change kind {change_ref.split(':', 1)[0]!r}")
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        problems.append("'reason' is required: say why this breaking change is accepted")
    expires = item.get("expires")
    if expires is not None and not isinstance(expires, date):
        try:
            date.fromisoformat(str(expires))
        except ValueError:
            problems.append("'expires' must be a date (YYYY-MM-DD)")
    return problems


# --- baseline ----------------------------------------------------------------------------


def validate_baseline(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("contracts"), dict):
        raise ConfigError(f"the baseline must be an object with \"format\": {FORMAT} and \"contracts\"")
    try:
        Mode.parse(data.get("default_compatibility", DEFAULT_MODE.value))
    except ValueError as exc:
        raise ConfigError(f"default_compatibility: {exc}") from None
    for name, entry in data["contracts"].items():
        versions = entry.get("versions") if isinstance(entry, dict) else None
        if not isinstance(versions, list) or not versions or not all(
                isinstance(v, dict) and isinstance(v.get("version"), int) and "schema" in v for v in versions):
            raise ConfigError(f"baseline contract {name}: 'versions' must be a non-empty list of {{version, schema}}")
        if entry.get("compatibility") is not None:
            try:
                Mode.parse(entry["compatibility"])
            except ValueError as exc:
                raise ConfigError(f"baseline contract {name}: {exc}") from None
    return data


def contract_mode(baseline: Mapping[str, Any], contract: str, override: Mode | None = None) -> Mode:
    """A per-contract mode in the baseline wins; then the command-line mode; then the default."""
    entry = baseline.get("contracts", {}).get(contract) or {}
    if entry.get("compatibility"):
        return Mode.parse(entry["compatibility"])
    if override is not None:
        return override
    return Mode.parse(baseline.get("default_compatibility", DEFAULT_MODE.value))


@dataclass
class ContractResult:
    contract: str
    status: str  # unchanged, compatible, breaking, new, removed, accepted
    mode: Mode | None = None
    owner: str | None = None
    changes: list[Change] = field(default_factory=list)  # against the latest published version
    violations: list[Violation] = field(default_factory=list)  # not allow-listed
    accepted: list[tuple[Violation, AllowEntry]] = field(default_factory=list)
    expired: list[tuple[Violation, AllowEntry]] = field(default_factory=list)


@dataclass
class GateReport:
    results: list[ContractResult]
    stale_entries: list[AllowEntry]

    @property
    def ok(self) -> bool:
        return not any(r.violations for r in self.results)

    def by_status(self, status: str) -> list[ContractResult]:
        return [r for r in self.results if r.status == status]


def check(baseline: Mapping[str, Any], current: Mapping[str, Mapping[str, Any]], allowlist: Sequence[AllowEntry], *,
          today: date, mode: Mode | None = None) -> GateReport:
    """Compare the current contracts ({type: {"schema", "owner"}}) with the published baseline."""
    results: list[ContractResult] = []
    used: set[int] = set()
    published = baseline.get("contracts", {})
    for name in sorted(published):
        entry = published[name]
        contract_mode_ = contract_mode(baseline, name, mode)
        result = ContractResult(name, "unchanged", contract_mode_, owner=entry.get("owner"))
        if name not in current:
            removed = change(ChangeKind.CONTRACT_REMOVED, name, f"published contract {name} was removed")
            violations = [Violation(f"v{entry['versions'][-1]['version']}", removed)]
            result.status = "removed"
        else:
            result.owner = current[name].get("owner", result.owner)
            history = [(f"v{v['version']}", v["schema"]) for v in entry["versions"]]
            try:
                diffs = version_diffs(history, current[name]["schema"], lambda a, b: jsonschema.diff_schemas(a, b))
            except DiffError as exc:
                raise ConfigError(f"{name}: cannot compare with the baseline: {exc}") from None
            result.changes = list(diffs[-1].changes)
            violations = list(assess(diffs, contract_mode_).violations)
            if any(d.changes for d in diffs):
                result.status = "compatible"
        for v in violations:
            entries = [a for a in allowlist if a.matches(name, v.change)]
            active = [a for a in entries if not a.expired(today)]
            used.update(a.index for a in entries)
            if active:
                result.accepted.append((v, active[0]))
            elif entries:
                result.expired.append((v, entries[0]))
                result.violations.append(v)
            else:
                result.violations.append(v)
        if result.violations:
            result.status = "breaking" if result.status != "removed" else "removed"
        elif result.accepted:
            result.status = "accepted"
        results.append(result)
    for name in sorted(set(current) - set(published)):
        results.append(ContractResult(name, "new", owner=current[name].get("owner")))
    stale = [a for a in allowlist if a.index not in used]
    return GateReport(results, stale)


def update(baseline: Mapping[str, Any] | None, current: Mapping[str, Mapping[str, Any]], report: GateReport | None, *,
           force: bool = False) -> dict[str, Any]:
    """The new baseline: unchanged contracts keep their history; a compatible change appends a
    version; an accepted (allow-listed) or forced break restarts the history at the new
    version; new contracts start at version 1; removed ones are dropped only when accepted or
    forced. Refuses (ConfigError) while the report has breaking changes, unless forced."""
    if report is not None and not report.ok and not force:
        raise ConfigError("the baseline is not updated while there are breaking changes that are not allow-listed; "
                          "fix them, allow-list them with a reason, or pass --force")
    old = dict((baseline or {}).get("contracts", {}))
    by_name = {r.contract: r for r in (report.results if report else [])}
    contracts: dict[str, Any] = {}
    for name in sorted(set(old) | set(current)):
        result = by_name.get(name)
        restart = result is not None and (bool(result.accepted) or (force and bool(result.violations)))
        if name not in current:
            if name in old and not restart:
                contracts[name] = old[name]
            continue
        schema = current[name]["schema"]
        fp = fingerprint(schema)
        entry = dict(old.get(name) or {})
        versions = list(entry.get("versions") or [])
        if versions and versions[-1].get("fingerprint") == fp and not restart:
            pass
        elif versions:
            version = {"version": versions[-1]["version"] + 1, "fingerprint": fp, "schema": schema}
            versions = [version] if restart else [*versions, version]
        else:
            versions = [{"version": 1, "fingerprint": fp, "schema": schema}]
        entry["owner"] = current[name].get("owner")
        entry["versions"] = versions
        contracts[name] = {k: entry[k] for k in ("owner", "compatibility", "versions") if entry.get(k) is not None}
    return {
        "format": FORMAT,
        "default_compatibility": (baseline or {}).get("default_compatibility", DEFAULT_MODE.value),
        "contracts": contracts,
    }


def dumps(baseline: Mapping[str, Any]) -> str:
    """Deterministic text, so an unchanged registry rewrites an identical file."""
    return json.dumps(baseline, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- report text -------------------------------------------------------------------------

_WHY = {
    "BACKWARD": "a consumer on the new schema can no longer read events already written",
    "FORWARD": "consumers still on the published schema can no longer read new events",
    "FULL": "old and new schemas must read each other's events",
}


def format_failure(report: GateReport, *, consumers: Mapping[str, Sequence[str]] | None = None,
                   allowlist_path: str = "services/schema_council/baseline/allowlist.yaml") -> str:
    failing = [r for r in report.results if r.violations]
    total = sum(len(r.violations) for r in failing)
    lines = [f"contract gate: FAILED - {total} breaking change(s) in {len(failing)} published contract(s)"]
    for r in failing:
        who = f"owner {r.owner}" if r.owner else "owner unknown"
        if consumers is not None and consumers.get(r.contract):
            who += f"; consumed by {', '.join(consumers[r.contract])}"
        mode = r.mode.value if r.mode else "-"
        lines.append(f"  {r.contract} [{mode}] ({who}):")
        expired = {id(v): a for v, a in r.expired}
        for v in r.violations:
            note = ""
            if v.change.kind is ChangeKind.CONTRACT_REMOVED:
                note = " - consumers and stored events of it are orphaned"
            elif r.mode is not None and r.mode.base in (Mode.BACKWARD, Mode.FORWARD, Mode.FULL):
                note = f" - breaks {r.mode.base.value}: {_WHY[r.mode.base.value]}"
            lines.append(f"    - {v.change.id}: {v.change.detail} (vs published {v.version}){note}")
            if id(v) in expired:
                a = expired[id(v)]
                lines.append(f"      {a.describe()} expired on {a.expires}")
        if r.status == "removed":
            lines.append(f"    fix: restore it (deprecate it first and keep it until its sunset), or accept the removal in "
                         f"{allowlist_path} (contract, change, reason)")
            continue
        major = r.contract.rsplit(".v", 1)
        nxt = f"{major[0]}.v{int(major[1]) + 1}" if len(major) == 2 and major[1].isdigit() else "a new major version"
        lines.append(f"    fix: keep the change compatible, or publish {nxt} beside it, or accept it in {allowlist_path} "
                     f"(contract, change, reason)")
    return "\n".join(lines)


def format_summary(report: GateReport) -> str:
    counts = {s: len(report.by_status(s)) for s in ("unchanged", "compatible", "accepted", "new")}
    published = len(report.results) - counts["new"]
    modes = sorted({r.mode.value for r in report.results if r.mode is not None})
    return (f"contract gate: OK - {published} published contract(s): {counts['unchanged']} unchanged, "
            f"{counts['compatible']} changed compatibly, {counts['accepted']} with accepted breaks; "
            f"{counts['new']} new ({'/'.join(modes) or 'no'} checks)")


def format_warnings(report: GateReport) -> list[str]:
    return [f"warning: {a.describe()} matches no breaking change any more; delete it" for a in report.stale_entries]


def changelog(report: GateReport) -> list[dict[str, Any]]:
    """What changed since the baseline, per contract (new, removed, changed)."""
    out = []
    for r in report.results:
        if r.status == "unchanged":
            continue
        out.append({
            "contract": r.contract,
            "status": r.status,
            "owner": r.owner,
            "mode": r.mode.value if r.mode else None,
            "changes": [c.as_dict() for c in r.changes],
            "breaking": [v.as_dict() for v in r.violations],
            "accepted": [{**v.as_dict(), "reason": a.reason} for v, a in r.accepted],
        })
    return out


def changelog_markdown(entries: Sequence[Mapping[str, Any]]) -> str:
    lines = ["# Event contract changes since the published baseline", ""]
    if not entries:
        lines.append("No changes.")
    for e in entries:
        lines.append(f"## `{e['contract']}`: {e['status']}")
        lines.append("")
        if e["owner"]:
            lines.append(f"Owner: {e['owner']}" + (f"; mode {e['mode']}" if e["mode"] else ""))
            lines.append("")
        for c in e["changes"]:
            lines.append(f"- `{c['kind']}` `{c['path']}`: {c['detail']} ({c['classification']})")
        for a in e["accepted"]:
            lines.append(f"- accepted break `{a['id']}`: {a['reason']}")
        for b in e["breaking"]:
            if b["kind"] == "contract_removed":
                lines.append(f"- {b['detail']}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"

"""Pure logic of schema-council: the proposal state machine, the analysis of a proposal
(diff + compatibility verdict), impact from the platform catalogue, the deprecation-window
rule, the catalogue view and the change log. No I/O: the catalogue and stored rows come in
as plain data.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.schema_council.diff import (
    Change,
    DiffError,
    Mode,
    Verdict,
    VersionDiff,
    all_modes,
    assess,
    check_document,
    coerce_document,
    diff_documents,
)

REVIEWER_ROLES = ("schema_reviewer", "admin")
ADMIN_ROLES = ("admin",)
MIN_DEPRECATION_WINDOW = timedelta(days=90)
VERSIONED = re.compile(r"^(?P<entity>.+)\.v(?P<major>[1-9][0-9]*)$")
PROPOSAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}$")


class Rejected(ValueError):
    """Bad input: the message says what is wrong (422)."""


class Conflict(ValueError):
    """The request conflicts with the current state (409)."""


class Forbidden(PermissionError):
    """The caller may not do this (403)."""


# --- the state machine -------------------------------------------------------------------

DRAFT, REVIEW, APPROVED, REJECTED = "draft", "review", "approved", "rejected"
STATUSES = (DRAFT, REVIEW, APPROVED, REJECTED)
TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({REVIEW}),
    REVIEW: frozenset({APPROVED, REJECTED}),
    APPROVED: frozenset(),
    REJECTED: frozenset(),
}
DECISIONS = (APPROVED, REJECTED)


@dataclass(frozen=True)
class Actor:
    sub: str
    roles: frozenset[str]

    def has(self, *roles: str) -> bool:
        return "platform-admin" in self.roles or any(r in self.roles for r in roles)


@dataclass(frozen=True)
class TransitionRequest:
    to: str
    accept_breaking: bool = False
    reason: str | None = None


def check_transition(*, status: str, created_by: str, breaking: bool, published: bool, request: TransitionRequest,
                     actor: Actor) -> None:
    """Raise Conflict (illegal transition, unaccepted break), Forbidden (role, four eyes) or
    Rejected (bad request) unless `actor` may move a proposal from `status` to `request.to`.

    * draft -> review: the author, a schema_reviewer or an admin.
    * review -> approved | rejected: a schema_reviewer or admin who is not the author
      (four eyes; `admin` may decide their own proposal).
    * approving a change that breaks the proposal's compatibility mode on a published
      contract needs accept_breaking=true and a reason.
    """
    if request.to not in STATUSES:
        raise Rejected(f"unknown status {request.to!r}; use one of {', '.join(s for s in STATUSES if s != DRAFT)}")
    if request.to not in TRANSITIONS[status]:
        allowed = ", ".join(sorted(TRANSITIONS[status])) or "none (the proposal is decided)"
        raise Conflict(f"a {status} proposal cannot move to {request.to}; allowed: {allowed}")
    if request.accept_breaking and not (request.reason or "").strip():
        raise Rejected("accept_breaking needs a reason: say why breaking consumers is acceptable")
    if request.to == REVIEW:
        if actor.sub != created_by and not actor.has(*REVIEWER_ROLES):
            raise Forbidden("only the author, a schema_reviewer or an admin can submit a proposal for review")
        return
    if not actor.has(*REVIEWER_ROLES):
        raise Forbidden(f"deciding a proposal needs one of the roles: {', '.join(REVIEWER_ROLES)}")
    if actor.sub == created_by and not actor.has(*ADMIN_ROLES):
        raise Forbidden("four eyes: the author cannot decide their own proposal (an admin can)")
    if request.to == APPROVED and breaking and published and not request.accept_breaking:
        raise Conflict("this change breaks a published contract under its compatibility mode: approve it with "
                       "accept_breaking: true and a reason, or propose a new major version instead")


def is_repeat(*, status: str, to: str, last_actor: str | None, actor: Actor) -> bool:
    """A retried transition (same target, same actor) is answered with the current state."""
    return status == to and last_actor == actor.sub


# --- proposals ---------------------------------------------------------------------------


def split_versioned(name: str) -> tuple[str, int | None]:
    m = VERSIONED.match(name)
    if m is None:
        return name, None
    return m.group("entity"), int(m.group("major"))


def validate_proposal_id(value: str) -> str:
    if not PROPOSAL_ID.match(value):
        raise Rejected("proposal_id / Idempotency-Key must be 1-100 characters: letters, digits, '.', '_', ':' or '-'")
    return value


def prepare_document(kind: str, document: Any, what: str) -> Any:
    """The document parsed and checked, or Rejected saying what is wrong with it."""
    try:
        value = coerce_document(kind, document)
        check_document(kind, value)
    except DiffError as exc:
        raise Rejected(f"{what}: {exc}") from None
    return value


def parse_mode(value: str | None, default: Mode) -> Mode:
    if value is None:
        return default
    try:
        return Mode.parse(value)
    except ValueError as exc:
        raise Rejected(str(exc)) from None


@dataclass(frozen=True)
class Analysis:
    mode: Mode
    changes: tuple[Change, ...]  # against the current version
    diffs: tuple[VersionDiff, ...]  # against every registered version, oldest first
    verdict: Verdict
    modes: dict[str, bool]

    @property
    def breaking(self) -> bool:
        return not self.verdict.compatible

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for c in self.changes:
            counts[c.classification] = counts.get(c.classification, 0) + 1
        return {
            "mode": self.mode.value,
            "breaking": self.breaking,
            "changes": [c.as_dict() for c in self.changes],
            "summary": {"total": len(self.changes), **counts},
            "verdict": self.verdict.as_dict(),
            "modes": self.modes,
        }


def analyse(kind: str, *, history: Sequence[tuple[str, Any]], proposed: Any, mode: Mode,
            rename_hints: Mapping[str, str] | None = None) -> Analysis:
    """Diff `proposed` against each registered version (`history`, oldest first, the last one
    being the current version) and judge it under `mode`. Raises Rejected when a document
    cannot be compared."""
    try:
        diffs = tuple(
            VersionDiff(label, tuple(diff_documents(kind, doc, proposed, rename_hints=rename_hints)))
            for label, doc in history
        )
    except DiffError as exc:
        raise Rejected(f"the documents cannot be compared: {exc}") from None
    changes = diffs[-1].changes if diffs else tuple()
    return Analysis(mode=mode, changes=changes, diffs=diffs, verdict=assess(diffs, mode), modes=all_modes(diffs))


def validate_rename_hints(hints: Any) -> dict[str, str]:
    if hints is None:
        return {}
    if not isinstance(hints, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in hints.items()):
        raise Rejected('rename_hints must map old paths to new names, e.g. {"$.user_name": "username"}')
    bad = [k for k in hints if not k.startswith("$")]
    if bad:
        raise Rejected(f"rename_hints keys are JSON Schema paths starting with '$' (got {bad[0]!r})")
    return dict(hints)


# --- impact ------------------------------------------------------------------------------


def impact(*, kind: str, contract: str, catalog: Mapping[str, Any], changes: Iterable[Change],
           breaking: bool) -> dict[str, Any]:
    """Which services produce and consume the changed contract, from the platform catalogue
    (`summit catalog export`). A proposal for a new major lists the services on the other
    majors of the same entity: they are the ones that will migrate."""
    events = {e["type"]: e for e in catalog.get("events", [])}
    services = {s["name"]: s for s in catalog.get("services", [])}
    entity, _ = split_versioned(contract)
    producers: set[str] = set()
    consumers: set[str] = set()
    related: list[dict[str, Any]] = []
    known = False
    operations: list[str] = []
    changes = list(changes)
    if kind == "jsonschema":
        if contract in events:
            known = True
            producers |= set(events[contract]["producers"])
            consumers |= set(events[contract]["consumers"])
        for other in sorted(events):
            if other != contract and split_versioned(other)[0] == entity:
                e = events[other]
                related.append({"contract": other, "producers": e["producers"], "consumers": e["consumers"]})
    elif kind in ("openapi", "asyncapi") and contract in services:
        known = True
        svc = services[contract]
        producers.add(contract)
        if kind == "asyncapi":
            touched = {c.path.split(" ")[0] for c in changes}
            for event_type in sorted(set(svc["produces"]) | set(svc["consumes"])):
                if any(t.endswith(event_type) for t in touched):
                    e = events.get(event_type)
                    if e:
                        producers |= set(e["producers"])
                        consumers |= set(e["consumers"])
        else:
            operations = sorted({" ".join(c.path.split(" ")[:2]) for c in changes})
    out: dict[str, Any] = {
        "contract": contract,
        "known": known,
        "producers": sorted(producers),
        "consumers": sorted(consumers),
        "services": sorted(producers | consumers),
        "at_risk": sorted(producers | consumers) if breaking else [],
        "related_versions": related,
        "catalog_complete": catalog.get("complete", True),
    }
    if operations:
        out["operations"] = operations
    return out


# --- deprecation -------------------------------------------------------------------------


def normalise_event_version(version: str) -> str:
    v = version.strip().lower().removeprefix("v")
    if not v.isdigit() or int(v) < 1:
        raise Rejected(f"version {version!r} is not an event major version (v1, v2, ...)")
    return f"v{int(v)}"


def check_deprecation(*, now: datetime, sunset_at: datetime, override_window: bool, actor: Actor) -> int:
    """The window in whole days; Rejected when it is shorter than 90 days and no admin overrides
    it, or when the sunset is not in the future."""
    if sunset_at.tzinfo is None:
        sunset_at = sunset_at.replace(tzinfo=UTC)
    window = sunset_at - now
    if window <= timedelta(0):
        raise Rejected("sunset_at must be in the future")
    if window < MIN_DEPRECATION_WINDOW:
        if not override_window:
            raise Rejected(f"the deprecation window is {window.days} days; it must be at least "
                           f"{MIN_DEPRECATION_WINDOW.days} days (an admin can set override_window: true)")
        if not actor.has(*ADMIN_ROLES):
            raise Forbidden("only an admin can override the 90-day deprecation window")
    return window.days


def lifecycle(deprecation: Mapping[str, Any] | None, now: datetime) -> str:
    if deprecation is None:
        return "active"
    return "sunset" if deprecation["sunset_at"] <= now else "deprecated"


# --- the catalogue view ------------------------------------------------------------------


def _deprecation_out(d: Mapping[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "deprecated_at": d["deprecated_at"].isoformat(),
        "sunset_at": d["sunset_at"].isoformat(),
        "window_days": (d["sunset_at"] - d["deprecated_at"]).days,
        "days_left": max(0, (d["sunset_at"] - now).days),
        "replacement": d.get("replacement"),
        "notice": d.get("notice"),
        "deprecated_by": d.get("deprecated_by"),
        "window_overridden": bool(d.get("window_overridden")),
    }


def build_catalog(*, platform: Mapping[str, Any], modes: Mapping[str, str], deprecations: Iterable[Mapping[str, Any]],
                  revisions: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """One entry per contract entity: event types grouped by name across majors (the versions
    are the majors), each service's HTTP API (OpenAPI, versioned by the service version), and
    the tenant's own contracts created by approved proposals. Each version carries its owner,
    lifecycle status and deprecation window."""
    deps = {(d["contract"], d["version"]): d for d in deprecations}
    revs: dict[str, list[Mapping[str, Any]]] = {}
    for r in revisions:
        revs.setdefault(r["contract"], []).append(r)
    entries: dict[str, dict[str, Any]] = {}

    def version_entry(contract: str, version: str, extra: dict[str, Any]) -> dict[str, Any]:
        d = deps.get((contract, version))
        return {"version": version, "status": lifecycle(d, now), "deprecation": _deprecation_out(d, now), **extra}

    for e in platform.get("events", []):
        entity, major = split_versioned(e["type"])
        entry = entries.setdefault(entity, {"contract": entity, "kind": "jsonschema", "source": "platform",
                                            "owner": e["owner"], "versions": []})
        entry["versions"].append(version_entry(entity, f"v{major}", {
            "type": e["type"], "owner": e["owner"], "description": e["description"], "producers": e["producers"],
            "consumers": e["consumers"], "compatibility": modes.get(e["type"]),
        }))
    for s in platform.get("services", []):
        if s["name"] in entries:
            continue
        entries[s["name"]] = {"contract": s["name"], "kind": "openapi", "source": "platform", "owner": s["name"],
                              "versions": [version_entry(s["name"], s["version"], {
                                  "owner": s["name"], "description": s["description"], "endpoints": len(s["http"]),
                              })]}
    for contract, rows in revs.items():
        rows = sorted(rows, key=lambda r: r["revision"])
        entity, _ = split_versioned(contract)
        approved = [{"revision": r["revision"], "proposal_id": r["proposal_id"], "approved_at": r["approved_at"].isoformat(),
                     "approved_by": r["approved_by"], "owner": r["owner"]} for r in rows]
        if entity in entries and entries[entity]["source"] == "platform":
            entries[entity].setdefault("approved_changes", []).extend(
                {**a, "contract": contract} for a in approved)
            continue
        entries[contract] = {
            "contract": contract, "kind": rows[-1]["kind"], "source": "tenant", "owner": rows[-1]["owner"],
            "versions": [version_entry(contract, str(r["revision"]), {"owner": r["owner"], "revision": r["revision"],
                                                                     "proposal_id": r["proposal_id"]}) for r in rows],
        }
    out = []
    for entry in entries.values():
        entry["versions"].sort(key=lambda v: _version_key(v["version"]))
        entry["latest_version"] = entry["versions"][-1]["version"]
        entry["owner"] = entry["versions"][-1]["owner"]
        statuses = {v["status"] for v in entry["versions"]}
        entry["status"] = "active" if "active" in statuses else ("deprecated" if "deprecated" in statuses else "sunset")
        out.append(entry)
    return sorted(out, key=lambda e: e["contract"])


def _version_key(version: str) -> tuple:
    parts = re.findall(r"\d+|\D+", version)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def resolve_catalog_version(entry: Mapping[str, Any], version: str) -> str:
    """The version label of `entry` that `version` names (v1 / 1 for an event major; the full
    label or its major for a service API); Rejected when there is none."""
    labels = [v["version"] for v in entry["versions"]]
    if entry["kind"] == "jsonschema" and entry["source"] == "platform":
        wanted = normalise_event_version(version)
        if wanted in labels:
            return wanted
    else:
        if version in labels:
            return version
        major = version.strip().lower().removeprefix("v")
        matches = [label for label in labels if label.split(".")[0] == major]
        if len(matches) == 1:
            return matches[0]
    raise Rejected(f"{entry['contract']} has no version {version!r}; known: {', '.join(labels)}")


# --- change log --------------------------------------------------------------------------


def changelog_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    analysis = row["analysis"]
    return {
        "proposal_id": row["proposal_id"],
        "contract": row["contract"],
        "kind": row["kind"],
        "title": row["title"],
        "owner": row["owner"],
        "rationale": row["rationale"],
        "decision": row["status"],
        "decided_at": row["decided_at"].isoformat(),
        "decided_by": row["decided_by"],
        "breaking": row["breaking"],
        "accepted_breaking_reason": row["accept_breaking_reason"],
        "mode": analysis["mode"],
        "changes": [{k: c[k] for k in ("id", "kind", "path", "detail", "classification")} for c in analysis["changes"]],
    }


def deprecation_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "contract": row["contract"],
        "version": row["version"],
        "deprecated_at": row["deprecated_at"].isoformat(),
        "sunset_at": row["sunset_at"].isoformat(),
        "replacement": row["replacement"],
        "notice": row["notice"],
    }


def _md(text: Any) -> str:
    """One line of user text, safe inside Markdown bullets and table cells."""
    return re.sub(r"\s+", " ", str(text or "")).replace("|", "\\|").replace("<", "&lt;").strip()


def render_changelog_markdown(*, entries: Sequence[Mapping[str, Any]], deprecations: Sequence[Mapping[str, Any]],
                              since: date | None, generated_at: datetime, title: str = "Contract change log") -> str:
    lines = [f"# {title}", ""]
    lines.append(f"Generated {generated_at.strftime('%Y-%m-%d %H:%M UTC')}"
                 + (f", decisions since {since.isoformat()}" if since else "") + ".")
    lines.append("")
    if not entries:
        lines += ["No decided proposals.", ""]
    for e in entries:
        verdict = "breaking" if e["breaking"] else f"compatible under {e['mode']}"
        lines.append(f"## {e['decided_at'][:10]} - `{e['contract']}` ({e['kind']}): {e['decision']}")
        lines.append("")
        lines.append(f"- Proposal `{e['proposal_id']}`: {_md(e['title'])}")
        lines.append(f"- Owner {_md(e['owner'])}; decided by {_md(e['decided_by'])}; {verdict}")
        if e.get("accepted_breaking_reason"):
            lines.append(f"- Breaking change accepted: {_md(e['accepted_breaking_reason'])}")
        if e.get("rationale"):
            lines.append(f"- Rationale: {_md(e['rationale'])}")
        if e["changes"]:
            lines.append("- Changes:")
            for c in e["changes"]:
                lines.append(f"  - `{c['kind']}` `{_md(c['path'])}`: {_md(c['detail'])} ({c['classification']})")
        else:
            lines.append("- No schema changes.")
        lines.append("")
    if deprecations:
        lines += ["## Deprecations", "", "| Contract | Version | Deprecated | Sunset | Replacement |", "|---|---|---|---|---|"]
        for d in deprecations:
            lines.append(f"| `{_md(d['contract'])}` | {_md(d['version'])} | {d['deprecated_at'][:10]} | {d['sunset_at'][:10]} "
                         f"| {_md(d.get('replacement')) or '-'} |")
        lines.append("")
    return "\n".join(lines)


def render_changelog_json(*, entries: Sequence[Mapping[str, Any]], deprecations: Sequence[Mapping[str, Any]],
                          since: date | None, generated_at: datetime) -> dict[str, Any]:
    return {
        "generated_at": generated_at.isoformat(),
        "since": since.isoformat() if since else None,
        "entries": list(entries),
        "deprecations": list(deprecations),
    }


def request_fingerprint(body: Mapping[str, Any]) -> str:
    """What an idempotent retry must repeat exactly (the id fields themselves excluded)."""
    payload = {k: v for k, v in body.items() if k != "proposal_id"}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


"""The change bundle and one analyzer per change kind, behind one interface (`ANALYZERS`).

Pure: a bundle (already parsed JSON) and a `CatalogGraph` in, a report out.

A bundle is `{"changes": [change, ...], "proposal_id"?, "label"?}`, or one bare change
(an object with `kind`), which reads as a bundle of one. Each change has a `kind` that picks
its analyzer; `ANALYZERS[kind].model` validates it. Fields an analyzer does not know are
ignored and named in the report's `warnings` (so a newer schema-council can send more).

Adding a change kind = a model + a class with `kind`, `model`, `example` and
`analyze(change, graph, index)`, added to `ANALYZERS`; the contract tests in
tests/test_analyzers.py run every registered analyzer through the same invariants.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Protocol

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from services.blast_radius import domain
from services.blast_radius.domain import (
    BreakingChange,
    CatalogGraph,
    Impact,
    ImpactBuilder,
    ImpactNode,
    Seed,
    endpoint_node,
    event_node,
    policy_node,
    service_node,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ProposalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MAX_CHANGES = 50
MAX_ITEMS = 500


class BundleError(ValueError):
    """The bundle cannot be assessed; `errors` are [{loc, msg}] in request order."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")


def _error(index: int, field: str | Sequence[Any], msg: str) -> BundleError:
    loc = ["changes", index, *([field] if isinstance(field, str) else field)]
    return BundleError([{"loc": loc, "msg": msg}])


def _suggest(value: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, known, n=3, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


# --- change models ----------------------------------------------------------------------------


class _Change(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    proposal_id: ProposalId | None = Field(default=None, description="overrides the bundle's proposal_id for this change")

    def ignored_fields(self) -> list[str]:
        return sorted(self.model_extra or {})


class SchemaChangeItem(BaseModel):
    """One change of a diff. Takes blast-radius's own shape ({path, change, breaking?}) and
    schema-council's ({id, kind, path: "$.a.b", detail, backward, forward, classification})."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    path: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = Field(
        description="dot path of the field in the event data, e.g. participant.id ('$.participant.id' too); '' is the whole contract"
    )
    change: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)] = Field(
        validation_alias=AliasChoices("change", "kind"), description="the change kind (schema-council calls it `kind`)")
    breaking: bool | None = Field(default=None, description="wins over everything else when given")
    forward: bool | None = Field(default=None, description="schema-council: consumers on the old schema read the new data")
    backward: bool | None = None
    classification: str | None = Field(default=None, description="schema-council: additive, forward-compatible, ...")
    id: str | None = None
    detail: str | None = Field(default=None, max_length=2000)
    old: Any = None
    new: Any = None

class SchemaDiff(_Change):
    """A diff of one event contract, as schema-council produces it."""

    kind: Literal["schema_diff"]
    contract: Name = Field(description="the event type, e.g. buddy.checkin.completed.v1")
    changes: list[SchemaChangeItem] = Field(min_length=1, max_length=MAX_ITEMS)
    usage: dict[Name, list[Annotated[str, StringConstraints(max_length=500)]]] = Field(
        default_factory=dict,
        description="optional: consumer service -> field paths it reads; consumers not listed are assumed to read every field",
    )


class PolicyChange(_Change):
    """A change of a policy a service enforces (access, rate limit, moderation threshold, ...)."""

    kind: Literal["policy_change"]
    service: Name
    policy: Name
    effect: Literal["restrict", "relax", "neutral"] = "restrict"
    endpoints: list[Name] | None = Field(
        default=None, description="routes in scope: 'GET /v1/x', '/v1/x' (any method) or a prefix ending in '*'; default: all"
    )
    events: list[Name] = Field(default_factory=list, description="events of the service whose emission the policy changes")
    tenants: list[Name] | None = Field(default=None, description="tenants in scope; default: all")
    breaking: bool | None = Field(default=None, description="default: effect == restrict")
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None


class ServiceVersion(_Change):
    """A new version of a service about to be deployed."""

    kind: Literal["service_version"]
    service: Name
    from_version: Name = Field(alias="from")
    to_version: Name = Field(alias="to")
    breaking_endpoints: list[Name] = Field(default_factory=list)
    removed_events: list[Name] = Field(default_factory=list, description="event types the new version stops emitting")
    breaking: bool | None = Field(default=None, description="default: major version change, breaking endpoints or removed events")


class Bundle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    changes: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_CHANGES)
    proposal_id: ProposalId | None = None
    label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_change(cls, data: Any) -> Any:
        """A bare change (an object with `kind`; a bundle has none) is a bundle of one; its
        proposal_id stays on the change."""
        if isinstance(data, dict) and "kind" in data:
            return {"changes": [data]}
        return data


# --- analyzer interface -----------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeResult:
    index: int
    kind: str
    contract: str  # what an approving proposal must be for
    breaking: bool
    proposal_id: str | None
    impact: Impact
    base_terms: tuple[tuple[str, float], ...]
    scope: float
    warnings: tuple[str, ...]
    headline: str
    normalized: Mapping[str, Any]


class Analyzer(Protocol):
    kind: ClassVar[str]
    model: ClassVar[type[_Change]]
    description: ClassVar[str]
    example: ClassVar[dict[str, Any]]  # a change that is valid on any catalogue with one producing service

    def analyze(self, change: Any, graph: CatalogGraph, index: int) -> ChangeResult: ...


def _ignored(change: _Change, index: int) -> list[str]:
    return [f"changes[{index}]: ignored unknown field {name!r}" for name in change.ignored_fields()]


# --- schema_diff ------------------------------------------------------------------------------

BREAKING_CHANGES = frozenset({
    "removed", "renamed", "type_changed", "required_added", "made_required", "enum_removed",
    "constraint_tightened", "format_changed", "nullable_removed",
})
COMPATIBLE_CHANGES = frozenset({
    "added", "optional_added", "enum_added", "description_changed", "constraint_relaxed", "deprecated",
    "made_optional", "default_changed", "nullable_added",
})
_ADDITIONS = frozenset({"added", "optional_added", "required_added"})
# schema-council's change kinds (services/schema_council/diff/model.py), read as ours.
COUNCIL_KINDS = {
    "field_added": "added", "required_field_added": "required_added", "field_removed": "removed",
    "required_field_removed": "removed", "field_renamed": "renamed", "field_renumbered": "renamed",
    "field_made_optional": "made_optional", "field_made_required": "made_required", "type_widened": "type_changed",
    "type_narrowed": "constraint_tightened", "type_changed": "type_changed", "enum_value_added": "enum_added",
    "enum_value_removed": "enum_removed", "constraint_changed": "constraint_tightened", "contract_removed": "removed",
    "type_added": "added", "type_removed": "removed",
}
_COMPATIBLE_CLASSES = frozenset({"additive", "forward-compatible"})


def normalize_path(path: str) -> str:
    """'$.a.b', '$["a b"].c', '$.items[*].sku' -> 'a.b', 'a b.c', 'items.sku' (array steps are implicit)."""
    p = path.strip()
    p = p[1:] if p.startswith("$") else p
    p = re.sub(r'\[\s*"((?:[^"\\]|\\.)*)"\s*\]', lambda m: "." + json.loads(f'"{m.group(1)}"'), p)
    p = re.sub(r"\[(?:\*|\d+)\]", "", p)
    return p.strip(".")


def classify(item: SchemaChangeItem) -> tuple[str, bool, str | None]:
    """(our change kind, breaking for consumers, how it was decided when not by the kind table).
    Precedence: an explicit `breaking`; schema-council's `forward` flag (old consumers reading
    new data); its `classification`; then the kind's default. Unknown kinds are breaking."""
    kind = COUNCIL_KINDS.get(item.change, item.change)
    known = kind in BREAKING_CHANGES or kind in COMPATIBLE_CHANGES
    if item.breaking is not None:
        return kind, item.breaking, "breaking flag"
    if item.forward is not None:
        return kind, not item.forward, "forward flag"
    if item.classification:
        return kind, item.classification.strip().lower() not in _COMPATIBLE_CLASSES, "classification"
    return kind, kind in BREAKING_CHANGES or not known, None


def paths_overlap(a: str, b: str) -> bool:
    """participant and participant.id overlap; participant.id and participant.system do not; '' overlaps all."""
    return not a or not b or a == b or a.startswith(b + ".") or b.startswith(a + ".")


def schema_has_path(schema: Mapping[str, Any], path: str) -> bool:
    """Whether a dot path names a field of a JSON Schema (follows $ref to $defs, anyOf/oneOf/allOf, items)."""
    if not path:
        return True
    defs = schema.get("$defs") or {}

    def alternatives(node: Any, seen: int = 0) -> list[Mapping[str, Any]]:
        if not isinstance(node, Mapping) or seen > 20:
            return []
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return alternatives(defs.get(ref.removeprefix("#/$defs/")), seen + 1)
        found = [node]
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key) or ():
                found.extend(alternatives(sub, seen + 1))
        if node.get("type") == "array" or "items" in node:
            found.extend(alternatives(node.get("items"), seen + 1))
        return found

    current = [schema]
    for part in path.split("."):
        nxt = []
        for node in current:
            for alt in alternatives(node):
                prop = (alt.get("properties") or {}).get(part)
                if prop is not None:
                    nxt.append(prop)
        if not nxt:
            return False
        current = nxt
    return True


class SchemaDiffAnalyzer:
    kind: ClassVar[str] = "schema_diff"
    model: ClassVar[type[_Change]] = SchemaDiff
    description: ClassVar[str] = "a diff of one event contract: its consumers, then what they emit, transitively"
    example: ClassVar[dict[str, Any]] = {"kind": "schema_diff", "contract": "<event>", "changes": [{"path": "x", "change": "removed"}]}

    def analyze(self, change: SchemaDiff, graph: CatalogGraph, index: int) -> ChangeResult:
        contract = change.contract
        info = graph.events.get(contract)
        if info is None:
            raise _error(index, "contract", f"unknown contract {contract!r}: not an event type of the catalogue"
                         + _suggest(contract, sorted(graph.events)))
        warnings = _ignored(change, index)
        base_terms: list[tuple[str, float]] = []
        breaking_items, compatible_items = [], []
        classified: list[dict[str, Any]] = []
        for n, item in enumerate(change.changes):
            kind, breaking, decided_by = classify(item)
            path = normalize_path(item.path)
            label = f"{kind} {path or '(contract)'}"
            where = f"changes[{index}].changes[{n}]"
            if kind in BREAKING_CHANGES and not breaking and decided_by == "breaking flag":
                warnings.append(f"{where}: {label} is marked non-breaking; such changes usually break consumers")
            if kind not in BREAKING_CHANGES and kind not in COMPATIBLE_CHANGES:
                warnings.append(f"{where}: unknown change kind {item.change!r}"
                                + ("; treated as breaking" if decided_by is None else f"; used its {decided_by}"))
                base_terms.append((f"{where} unknown change kind", domain.BASE_UNKNOWN_CHANGE))
            if kind not in _ADDITIONS and not schema_has_path(info.schema, path):
                warnings.append(f"{where}: {path!r} is not a field of {contract}")
            warnings.extend(f"{where}: ignored unknown field {name!r}" for name in sorted(item.model_extra or {}))
            (breaking_items if breaking else compatible_items).append((path, label))
            classified.append({"path": path, "change": kind, "breaking": breaking})
        base_terms = base_terms[:3]
        is_breaking = bool(breaking_items)
        if is_breaking:
            base_terms.append((f"changes[{index}] breaking schema change", domain.BASE_BREAKING))

        builder = ImpactBuilder()
        eid = event_node(contract)
        listed = sorted({label for _, label in (breaking_items or compatible_items)})
        what = ", ".join(listed[:5]) + (f" and {len(listed) - 5} more" if len(listed) > 5 else "")
        builder.root(ImpactNode(eid, "event", contract, "changed", "none", 0, (eid,), f"contract changed: {what}"))
        for producer in info.producers:
            sid = service_node(producer)
            builder.edge(eid, sid, "produced_by")
            builder.add(ImpactNode(sid, "service", producer, "producer", "none", 0, (eid, sid), f"produces {contract}: ships the change"))

        consumers = set(info.consumers)
        spared: dict[str, str] = {}
        changed_paths = [path for path, _ in breaking_items]
        for consumer, reads in sorted(change.usage.items()):
            if consumer not in consumers:
                warnings.append(f"changes[{index}].usage: {consumer} does not consume {contract}")
                continue
            if is_breaking and not any(paths_overlap(r, c) for r in reads for c in changed_paths):
                spared[consumer] = f"reads only {', '.join(sorted(reads)) or 'nothing'} of {contract}: no breaking path"
        severity = "breaking" if is_breaking else "notice"
        reason = f"consumes {contract}: {what}" + (" (breaking)" if is_breaking else " (compatible)")
        domain.propagate(builder, graph, [Seed(contract, severity, (eid,), reason, spared)], transitive=is_breaking)
        return ChangeResult(
            index=index, kind=self.kind, contract=contract, breaking=is_breaking, proposal_id=change.proposal_id,
            impact=builder.build(), base_terms=tuple(base_terms), scope=1.0, warnings=tuple(warnings),
            headline=f"schema_diff of {contract}: {what}",
            normalized={
                "kind": self.kind, "contract": contract, "proposal_id": change.proposal_id,
                "changes": sorted(classified, key=lambda d: (d["path"], d["change"], d["breaking"])),
                "usage": {k: sorted(v) for k, v in sorted(change.usage.items())},
            },
        )


# --- endpoints ----------------------------------------------------------------------------------

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def match_endpoints(pattern: str, endpoints: Sequence[str]) -> list[str]:
    """'GET /v1/x' exact, '/v1/x' any method, a trailing '*' is a prefix; methods are case-insensitive."""
    method, _, path = pattern.strip().partition(" ")
    if method.upper() not in _METHODS:
        method, path = "", pattern.strip()
    path = path.strip()
    found = []
    for endpoint in endpoints:
        e_method, _, e_path = endpoint.partition(" ")
        if method and method.upper() != e_method:
            continue
        if path.endswith("*") and e_path.startswith(path[:-1]) or e_path == path:
            found.append(endpoint)
    return found


def _endpoints_in_scope(patterns: Sequence[str], service: str, endpoints: Sequence[str], index: int, field: str) -> list[str]:
    chosen: set[str] = set()
    for n, pattern in enumerate(patterns):
        matched = match_endpoints(pattern, endpoints)
        if not matched:
            raise _error(index, [field, n], f"{pattern!r} matches no endpoint of {service}; its endpoints: "
                         + (", ".join(endpoints) or "none"))
        chosen.update(matched)
    return sorted(chosen)


def _check_emits(events: Sequence[str], service: str, graph: CatalogGraph, index: int, field: str) -> None:
    emitted = graph.emitted_by(service)
    for n, event_type in enumerate(events):
        if event_type not in emitted:
            raise _error(index, [field, n], f"{service} does not emit {event_type!r}; it emits: {', '.join(emitted) or 'nothing'}")


def _service(graph: CatalogGraph, name: str, index: int):
    info = graph.services.get(name)
    if info is None:
        raise _error(index, "service", f"unknown service {name!r}: not in the catalogue" + _suggest(name, sorted(graph.services)))
    return info


def _stop_emitting(builder: ImpactBuilder, graph: CatalogGraph, root_path: tuple[str, ...], service: str,
                   events: Sequence[str], severity: str, reason: str, relation: str) -> None:
    sid = service_node(service)
    seeds = []
    for event_type in sorted(events):
        eid = event_node(event_type)
        builder.edge(sid, eid, relation)
        builder.add(ImpactNode(eid, "event", event_type, "carrier", "none", 0, (*root_path, eid), f"{reason}: {event_type}"))
        seeds.append(Seed(event_type, severity, (*root_path, eid), f"consumes {event_type}: {reason}"))
    domain.propagate(builder, graph, seeds, transitive=severity in domain.AFFECTED_SEVERITIES)


# --- policy_change ------------------------------------------------------------------------------

TENANT_SCOPE = 0.5  # a policy limited to named tenants counts half the exposure of one for all


class PolicyChangeAnalyzer:
    kind: ClassVar[str] = "policy_change"
    model: ClassVar[type[_Change]] = PolicyChange
    description: ClassVar[str] = "a policy of a service: the endpoints it guards and the events whose emission it changes"
    example: ClassVar[dict[str, Any]] = {"kind": "policy_change", "service": "<service>", "policy": "rate-limit", "effect": "restrict"}

    def analyze(self, change: PolicyChange, graph: CatalogGraph, index: int) -> ChangeResult:
        info = _service(graph, change.service, index)
        endpoints = list(info.endpoints) if change.endpoints is None else _endpoints_in_scope(
            change.endpoints, change.service, info.endpoints, index, "endpoints")
        _check_emits(change.events, change.service, graph, index, "events")
        breaking = change.effect == "restrict" if change.breaking is None else change.breaking
        warnings = _ignored(change, index)
        base_terms: list[tuple[str, float]] = []
        if breaking:
            base_terms.append((f"changes[{index}] breaking policy change", domain.BASE_BREAKING))
        if change.effect == "relax":
            base_terms.append((f"changes[{index}] policy relaxed (security exposure)", domain.BASE_SECURITY_RELAX))
        severity = "breaking" if breaking else "notice"

        builder = ImpactBuilder()
        pid, sid = policy_node(change.service, change.policy), service_node(change.service)
        tenants = "all tenants" if change.tenants is None else f"tenants {', '.join(sorted(change.tenants))}"
        builder.root(ImpactNode(pid, "policy", f"{change.service}:{change.policy}", "changed", "none", 0, (pid,),
                                f"policy {change.policy} {change.effect}s, for {tenants}"))
        builder.edge(pid, sid, "enforced_by")
        builder.add(ImpactNode(sid, "service", change.service, "enforcer", "none", 0, (pid, sid), f"enforces {change.policy}"))
        for endpoint in endpoints:
            epid = endpoint_node(change.service, endpoint)
            builder.edge(sid, epid, "serves")
            builder.add(ImpactNode(epid, "endpoint", f"{change.service} {endpoint}", "endpoint", severity, 1, (pid, sid, epid),
                                   f"guarded by {change.policy} ({change.effect})"))
        if change.events:
            _stop_emitting(builder, graph, (pid, sid), change.service, change.events, severity,
                           f"policy {change.policy} changes what {change.service} emits", "emits")
        if not endpoints and not change.events:
            warnings.append(f"changes[{index}]: {change.service} has no endpoints and no events in scope: nothing to assess")
        return ChangeResult(
            index=index, kind=self.kind, contract=change.service, breaking=breaking, proposal_id=change.proposal_id,
            impact=builder.build(), base_terms=tuple(base_terms), scope=1.0 if change.tenants is None else TENANT_SCOPE,
            warnings=tuple(warnings), headline=f"policy_change {change.service}:{change.policy} ({change.effect}, {tenants})",
            normalized={
                "kind": self.kind, "service": change.service, "policy": change.policy, "effect": change.effect,
                "endpoints": endpoints, "events": sorted(change.events),
                "tenants": None if change.tenants is None else sorted(change.tenants),
                "breaking": breaking, "proposal_id": change.proposal_id,
            },
        )


# --- service_version ----------------------------------------------------------------------------

_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$")


def parse_semver(value: str) -> tuple[int, int, int] | None:
    match = _SEMVER.match(value.strip())
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


class ServiceVersionAnalyzer:
    kind: ClassVar[str] = "service_version"
    model: ClassVar[type[_Change]] = ServiceVersion
    description: ClassVar[str] = "a service version: its breaking endpoints and the events it stops emitting"
    example: ClassVar[dict[str, Any]] = {"kind": "service_version", "service": "<service>", "from": "1.0.0", "to": "2.0.0"}

    def analyze(self, change: ServiceVersion, graph: CatalogGraph, index: int) -> ChangeResult:
        info = _service(graph, change.service, index)
        old, new = parse_semver(change.from_version), parse_semver(change.to_version)
        if old is None:
            raise _error(index, "from", f"{change.from_version!r} is not a semantic version (e.g. 1.4.2)")
        if new is None:
            raise _error(index, "to", f"{change.to_version!r} is not a semantic version (e.g. 1.4.2)")
        warnings = _ignored(change, index)
        if info.version and parse_semver(info.version) != old:
            warnings.append(f"changes[{index}]: the catalogue has {change.service} {info.version}, not {change.from_version}")
        if new < old:
            warnings.append(f"changes[{index}]: {change.to_version} is older than {change.from_version} (a rollback)")
        major = new[0] != old[0]
        endpoints = _endpoints_in_scope(change.breaking_endpoints, change.service, info.endpoints, index, "breaking_endpoints")
        _check_emits(change.removed_events, change.service, graph, index, "removed_events")
        if major and not endpoints and not change.removed_events and info.endpoints:
            endpoints = list(info.endpoints)
            warnings.append(f"changes[{index}]: major version change without breaking_endpoints: every endpoint of "
                            f"{change.service} is assumed to break")
        derived = major or bool(endpoints) or bool(change.removed_events)
        breaking = derived if change.breaking is None else change.breaking or derived
        base_terms = [(f"changes[{index}] breaking service version", domain.BASE_BREAKING)] if breaking else []

        builder = ImpactBuilder()
        sid = service_node(change.service)
        builder.root(ImpactNode(sid, "service", change.service, "changed", "none", 0, (sid,),
                                f"{change.service} {change.from_version} -> {change.to_version}"))
        for endpoint in endpoints:
            epid = endpoint_node(change.service, endpoint)
            builder.edge(sid, epid, "serves")
            builder.add(ImpactNode(epid, "endpoint", f"{change.service} {endpoint}", "endpoint", "breaking", 1, (sid, epid),
                                   f"breaks in {change.service} {change.to_version}"))
        if change.removed_events:
            _stop_emitting(builder, graph, (sid,), change.service, change.removed_events, "breaking",
                           f"{change.service} {change.to_version} stops emitting it", "stops_emitting")
        return ChangeResult(
            index=index, kind=self.kind, contract=change.service, breaking=breaking, proposal_id=change.proposal_id,
            impact=builder.build(), base_terms=tuple(base_terms), scope=1.0, warnings=tuple(warnings),
            headline=f"service_version {change.service} {change.from_version} -> {change.to_version}",
            normalized={
                "kind": self.kind, "service": change.service, "from": change.from_version, "to": change.to_version,
                "breaking_endpoints": endpoints, "removed_events": sorted(change.removed_events),
                "breaking": breaking, "proposal_id": change.proposal_id,
            },
        )


ANALYZERS: dict[str, Analyzer] = {
    a.kind: a for a in (SchemaDiffAnalyzer(), PolicyChangeAnalyzer(), ServiceVersionAnalyzer())
}


# --- the bundle -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """What `assess` found: the diffable report, and what readiness needs."""

    report: dict[str, Any]
    change_kind: str
    breaking: tuple[BreakingChange, ...]
    risk: float
    affected: tuple[str, ...]
    proposal_ids: tuple[str, ...]


def parse_bundle(raw: Any) -> tuple[Bundle, list[_Change]]:
    """Validate the bundle and each change against its kind's model. Raises BundleError."""
    try:
        bundle = Bundle.model_validate(raw)
    except ValidationError as exc:
        raise BundleError([{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()[:20]]) from None
    changes: list[_Change] = []
    errors: list[dict[str, Any]] = []
    for index, change in enumerate(bundle.changes):
        kind = change.get("kind")
        analyzer = ANALYZERS.get(kind) if isinstance(kind, str) else None
        if analyzer is None:
            errors.append({"loc": ["changes", index, "kind"],
                           "msg": f"unknown change kind {kind!r}; known kinds: {', '.join(sorted(ANALYZERS))}"})
            continue
        try:
            changes.append(analyzer.model.model_validate(change))
        except ValidationError as exc:
            errors.extend({"loc": ["changes", index, *e["loc"]], "msg": e["msg"]} for e in exc.errors()[:10])
    if errors:
        raise BundleError(errors[:20])
    return bundle, changes


def proposal_ids_of(bundle: Bundle, changes: Sequence[_Change]) -> list[str]:
    return sorted({c.proposal_id or bundle.proposal_id for c in changes} - {None})


def assess(raw: Any, graph: CatalogGraph) -> Assessment:
    """The impact report of a bundle on a catalogue. Raises BundleError for a bundle that
    cannot be assessed (unknown kind, contract, service, endpoint, malformed fields)."""
    bundle, changes = parse_bundle(raw)
    results = [ANALYZERS[change.kind].analyze(change, graph, index) for index, change in enumerate(changes)]  # type: ignore[attr-defined]
    impact = domain.merge(r.impact for r in results)
    base_terms = [term for r in results for term in r.base_terms]
    risk = domain.risk_score(impact, base_terms=base_terms, scope=max(r.scope for r in results))
    kinds = [r.kind for r in results]
    breaking = tuple(
        BreakingChange(index=r.index, contract=r.contract, proposal_id=r.proposal_id or bundle.proposal_id)
        for r in results if r.breaking
    )
    warnings = sorted({w for r in results for w in r.warnings})
    graph_part = impact.as_dict()
    report = {
        "catalog": graph.summary(),
        "label": bundle.label,
        "proposal_id": bundle.proposal_id,
        "change_kinds": sorted(set(kinds)),
        "changes": [
            {"index": r.index, "kind": r.kind, "contract": r.contract, "breaking": r.breaking,
             "proposal_id": r.proposal_id or bundle.proposal_id, "headline": r.headline, "change": dict(r.normalized)}
            for r in results
        ],
        **graph_part,
        "breaking": bool(breaking),
        "risk": risk.as_dict(),
        "warnings": warnings,
        "summary": domain.summarize(kinds, impact, risk, breaking_count=len(breaking), headlines=[r.headline for r in results]),
    }
    return Assessment(
        report=report,
        change_kind="+".join(sorted(set(kinds))),
        breaking=breaking,
        risk=risk.score,
        affected=tuple(graph_part["affected"]),
        proposal_ids=tuple(proposal_ids_of(bundle, changes)),
    )

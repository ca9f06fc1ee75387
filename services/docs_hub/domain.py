"""Pure logic of docs-hub: no I/O.

- The catalogue as data (`Catalogue`, `ServiceInfo`, `Route`), JSON round-trippable so a
  refresh can store the snapshot it used.
- Hashing and versioning: sha256 of a document's text; `plan_versions` decides which
  documents get a new version (only when the hash changed).
- Matching: which endpoints (METHOD + path) and event types a document mentions, and which
  routes a mention resolves to (`{param}` placeholders match any spelling of a parameter).
- Links, coverage and drift findings, computed from a catalogue and documents.
- Rendering of markdown bundles.

The rules are described in the service README ("Matching rules", "Drift findings").
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

# --- kinds ------------------------------------------------------------------------------------

DocKind = Literal["readme", "openapi", "asyncapi", "adr", "runbook"]
DOC_KINDS: tuple[str, ...] = ("readme", "openapi", "asyncapi", "adr", "runbook")
# Written by people: these count for coverage. Specs are generated from the code, so they
# always describe every endpoint and event; counting them would make coverage meaningless.
HUMAN_KINDS = frozenset({"readme", "adr", "runbook"})
SPEC_KINDS = frozenset({"openapi", "asyncapi"})
KIND_ORDER = {kind: i for i, kind in enumerate(DOC_KINDS)}

HTTP_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

# Routes every service gets from the chassis (summit_common.http.build_app) and FastAPI; a
# document naming one of these never names a dead endpoint.
CHASSIS_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/asyncapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/v1/dlq"),
    ("POST", "/v1/dlq/{seq}/replay"),
)

CONTRACTS_EVENTS_DIR = "libs/contracts/summit_contracts/events/"


# --- the catalogue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as in the OpenAPI document, e.g. /v1/profiles/{profile_id}
    template: str = ""  # as declared in the router, converters kept, e.g. /api/{path:path}
    tags: tuple[str, ...] = ()
    summary: str = ""

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def segments(self) -> tuple[str, ...]:
        return path_segments(self.template or self.path)


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    package: str  # the folder under services/, e.g. kintell_connector
    description: str = ""
    routes: tuple[Route, ...] = ()
    consumes: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    owns: tuple[str, ...] = ()  # event types whose contract names this service as owner

    @property
    def folder(self) -> str:
        return f"services/{self.package}"

    @property
    def readme_path(self) -> str:
        return f"{self.folder}/README.md"

    @property
    def events(self) -> tuple[str, ...]:
        """The event types this service answers for in its docs: consumed, produced or owned."""
        return tuple(sorted(set(self.consumes) | set(self.produces) | set(self.owns)))

    @property
    def spec_events(self) -> tuple[str, ...]:
        """The event types in its AsyncAPI document (what it receives and sends)."""
        return tuple(sorted(set(self.consumes) | set(self.produces)))


@dataclass(frozen=True)
class Catalogue:
    services: tuple[ServiceInfo, ...] = ()
    event_types: frozenset[str] = frozenset()  # every registered type
    event_modules: Mapping[str, str] = field(default_factory=dict)  # type -> contract file (repo path)
    event_owners: Mapping[str, str] = field(default_factory=dict)  # type -> owner service

    def service(self, name: str) -> ServiceInfo | None:
        for s in self.services:
            if s.name == name:
                return s
        return None

    def by_package(self, package: str) -> ServiceInfo | None:
        for s in self.services:
            if s.package == package:
                return s
        return None

    def all_routes(self) -> list[Route]:
        return [r for s in self.services for r in s.routes]

    def to_json(self) -> dict[str, Any]:
        return {
            "services": [asdict(s) for s in self.services],
            "event_types": sorted(self.event_types),
            "event_modules": dict(sorted(self.event_modules.items())),
            "event_owners": dict(sorted(self.event_owners.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Catalogue:
        services = []
        for s in data.get("services", []):
            routes = tuple(
                Route(method=r["method"], path=r["path"], template=r.get("template", ""), tags=tuple(r.get("tags", ())),
                      summary=r.get("summary", ""))
                for r in s.get("routes", [])
            )
            services.append(ServiceInfo(
                name=s["name"], package=s["package"], description=s.get("description", ""), routes=routes,
                consumes=tuple(s.get("consumes", ())), produces=tuple(s.get("produces", ())), owns=tuple(s.get("owns", ())),
            ))
        return cls(
            services=tuple(services),
            event_types=frozenset(data.get("event_types", ())),
            event_modules=dict(data.get("event_modules", {})),
            event_owners=dict(data.get("event_owners", {})),
        )


def catalogue_from_export(
    exported: Mapping[str, Any],
    packages: Mapping[str, str],
    route_details: Mapping[str, Mapping[tuple[str, str], Mapping[str, Any]]] | None = None,
    event_modules: Mapping[str, str] | None = None,
) -> Catalogue:
    """A `Catalogue` from `summit_common.catalog.export_catalog()` output.

    `packages` maps service name -> folder under services/ (default: the name with '_' for '-');
    `route_details[service][(METHOD, path)]` may add `template`, `tags` and `summary`;
    `event_modules` maps event type -> the Python module of its contract."""
    route_details = route_details or {}
    owned: dict[str, list[str]] = {}
    owners: dict[str, str] = {}
    for event in exported.get("events", []):
        owners[event["type"]] = event.get("owner", "")
        owned.setdefault(event.get("owner", ""), []).append(event["type"])
    services = []
    for s in exported.get("services", []):
        name = s["name"]
        details = route_details.get(name, {})
        routes = []
        for entry in s.get("http", []):
            for method in entry.get("methods", []):
                extra = details.get((method.upper(), entry["path"]), {})
                routes.append(Route(
                    method=method.upper(), path=entry["path"], template=extra.get("template", ""),
                    tags=tuple(extra.get("tags", ())), summary=extra.get("summary", "") or "",
                ))
        routes.sort(key=lambda r: (r.path, r.method))
        services.append(ServiceInfo(
            name=name, package=packages.get(name, name.replace("-", "_")), description=s.get("description", "") or "",
            routes=tuple(routes), consumes=tuple(sorted(s.get("consumes", ()))), produces=tuple(sorted(s.get("produces", ()))),
            owns=tuple(sorted(owned.get(name, ()))),
        ))
    services.sort(key=lambda s: s.name)
    return Catalogue(
        services=tuple(services),
        event_types=frozenset(owners),
        event_modules={t: contract_file(m) for t, m in (event_modules or {}).items()},
        event_owners=owners,
    )


def contract_file(module: str) -> str:
    """`summit_contracts.events.kintell` -> `libs/contracts/summit_contracts/events/kintell.py` (repo path)."""
    if module.endswith(".py") or "/" in module:
        return module
    return "libs/contracts/" + module.replace(".", "/") + ".py"


# --- hashing and versioning -------------------------------------------------------------------


def sha256_text(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def canonical_json(document: Any) -> str:
    """Stable text of a JSON document (sorted keys), so its hash changes only when the content does."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


class Action(StrEnum):
    NEW = "new"  # first time seen: version 1
    CHANGED = "changed"  # hash differs from the current version: version n + 1
    UNCHANGED = "unchanged"  # same hash: only last_verified_at moves
    RESTORED = "restored"  # was removed, is back with the same hash: no new version
    REMOVED = "removed"  # stored, not found by this scan


@dataclass(frozen=True)
class StoredDoc:
    sha256: str
    version: int
    removed: bool = False


@dataclass(frozen=True)
class Planned:
    action: Action
    version: int  # the document's current version after the refresh


def plan_versions(stored: Mapping[str, StoredDoc], incoming: Mapping[str, str]) -> dict[str, Planned]:
    """What a refresh does to each document, given the stored state (key -> current hash and
    version) and the scanned documents (key -> hash). A new version only when the hash changed."""
    plan: dict[str, Planned] = {}
    for key, digest in incoming.items():
        current = stored.get(key)
        if current is None:
            plan[key] = Planned(Action.NEW, 1)
        elif current.sha256 != digest:
            plan[key] = Planned(Action.CHANGED, current.version + 1)
        elif current.removed:
            plan[key] = Planned(Action.RESTORED, current.version)
        else:
            plan[key] = Planned(Action.UNCHANGED, current.version)
    for key, current in stored.items():
        if key not in incoming and not current.removed:
            plan[key] = Planned(Action.REMOVED, current.version)
    return plan


def count_actions(plan: Mapping[str, Planned]) -> dict[str, int]:
    counts = {a.value: 0 for a in Action}
    for p in plan.values():
        counts[p.action.value] += 1
    return counts


# --- paths and endpoint mentions --------------------------------------------------------------

PARAM = "{}"  # one path parameter, whatever its name
REST = "{**}"  # a parameter that takes the rest of the path ({name:path})

_BRACED = re.compile(r"^\{([^{}]*)\}$")


def _segment(segment: str) -> str:
    braced = _BRACED.match(segment)
    if braced:
        _, _, converter = braced.group(1).partition(":")
        return REST if converter.strip() == "path" else PARAM
    if re.fullmatch(r":[A-Za-z_][A-Za-z0-9_]*", segment) or re.fullmatch(r"<[^<>]+>", segment):
        return PARAM
    return segment


def path_segments(path: str) -> tuple[str, ...]:
    """Segments of a path with every parameter spelling normalised: `{id}`, `{profile_id}`,
    `{n:int}`, `:id` and `<id>` all become `{}`; `{p:path}` becomes `{**}`. Query string,
    fragment, empty segments and a trailing slash are dropped."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    return tuple(_segment(s) for s in path.split("/") if s)


def normalise_path(path: str) -> str:
    return "/" + "/".join(path_segments(path))


def match_score(mention: Sequence[str], template: Sequence[str]) -> int | None:
    """How well a mentioned path (segments) matches a route template (segments); None if it
    does not. A literal matched by the same literal scores 2, a placeholder by a placeholder 1,
    a concrete value in a parameter's place 0, so the most specific route scores highest."""
    score = 0
    for j, t in enumerate(template):
        if t == REST:
            rest = mention[j:]
            if not rest:
                return None
            return score + (1 if tuple(rest) == (REST,) else 0)
        if j >= len(mention):
            return None
        m = mention[j]
        if t == PARAM:
            if m == REST:
                return None
            score += 1 if m == PARAM else 0
        elif m == t:
            score += 2
        else:
            return None
    return score if len(mention) == len(template) else None


def best_routes(method: str | None, path: str, routes: Iterable[Route]) -> list[Route]:
    """The routes a (method, path) mention names: among the routes it matches, the most
    specific ones (ties are all returned). `method=None` matches any method."""
    mention = path_segments(path)
    scored: list[tuple[int, Route]] = []
    for route in routes:
        if method is not None and route.method != method.upper():
            continue
        score = match_score(mention, route.segments)
        if score is not None:
            scored.append((score, route))
    if not scored:
        return []
    top = max(score for score, _ in scored)
    return [route for score, route in scored if score == top]


_METHOD = "(?:" + "|".join(HTTP_METHODS) + ")"
# A path: `/` then at least one path character (a bare `/` is never taken for an endpoint).
_PATH = r"/[A-Za-z0-9_\-.~{}:<>*%+@!$=][A-Za-z0-9_\-.~{}:<>/%+@!$=*]*"
_MENTION = re.compile(
    # atomic: `GET/POST` is two methods, never GET followed by the path `/POST`
    rf"(?<![A-Za-z0-9_])(?P<methods>(?>{_METHOD}(?:[ \t`]*(?:/|,|&|\band\b|\bor\b)[ \t`]*{_METHOD})*))(?![A-Za-z0-9_])"
    # at least one separator: `DELETE/UPDATE` (SQL) or `GET/x` is not a method and a path
    rf"[ \t`*|:]+(?P<path>{_PATH})"
)
# More paths for the same methods: `POST /v1/a, /v1/b and /v1/c` (backticks allowed around each).
_MORE_PATHS = re.compile(rf"^[ \t`]*(?:,|\band\b|\bor\b)[ \t`]*(?P<path>{_PATH})")
_METHOD_WORD = re.compile(_METHOD)


@dataclass(frozen=True, order=True)
class EndpointMention:
    method: str
    path: str  # as written, query string removed
    line: int

    @property
    def ref(self) -> str:
        return f"{self.method} {self.path}"


def _clean_path(path: str) -> str:
    path = path.rstrip(".,;:")
    while len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path


def endpoint_mentions(text: str) -> list[EndpointMention]:
    """Every `METHOD /path` in a text.

    An upper-case HTTP method, or several joined by `/`, `,`, `&`, `and`, `or` (`GET/POST`,
    `` `GET`/`PUT` ``); then, on the same line, at least one of spaces, backticks, `*`, `|` or `:` (so a
    markdown table row `| GET | /v1/x |` counts); then a path: `/` and at least one more
    character. A list of paths after one method (`POST /v1/a, /v1/b`) names each. A query
    string (`?limit=`) is ignored; `{id}`, `:id` and `<id>` are placeholders (see `path_segments`)."""
    found: set[EndpointMention] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _MENTION.finditer(line):
            methods = _METHOD_WORD.findall(match.group("methods"))
            paths = [match.group("path")]
            rest = line[match.end():]
            while True:
                # skip a query string after the previous path
                rest = re.sub(r"^\?[^\s`|,]*", "", rest)
                more = _MORE_PATHS.match(rest)
                if more is None:
                    break
                paths.append(more.group("path"))
                rest = rest[more.end():]
            for path in paths:
                for method in methods:
                    found.add(EndpointMention(method, _clean_path(path), number))
    return sorted(found, key=lambda m: (m.line, m.path, m.method))


def parse_endpoint(text: str) -> tuple[str | None, str]:
    """`GET /v1/x/{id}` or `/v1/x/{id}` -> (method or None, path). ValueError says what is wrong."""
    value = text.strip()
    method: str | None = None
    head, sep, tail = value.partition(" ")
    if sep and head.upper() in HTTP_METHODS:
        method, value = head.upper(), tail.strip()
    elif sep or not value.startswith("/"):
        raise ValueError(f"endpoint must be 'METHOD /path' or '/path' (METHOD one of {', '.join(HTTP_METHODS)}), got {text!r}")
    if not value.startswith("/") or any(c.isspace() for c in value):
        raise ValueError(f"endpoint path must start with '/' and contain no spaces, got {value!r}")
    return method, _clean_path(value.split("?", 1)[0])


# --- event mentions ---------------------------------------------------------------------------

# Anything shaped like an event type: <domain>.<entity>.<action...>.v<major> (as the registry's
# TYPE_PATTERN), not part of a longer dotted or hyphenated token.
_EVENT_LIKE = re.compile(r"(?<![\w.\-/])([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*){2,}\.v[1-9][0-9]*)(?![\w\-]|\.\w)")


def event_mentions(text: str) -> set[str]:
    """Every token of the text shaped like an event type (registered or not)."""
    return set(_EVENT_LIKE.findall(text))


# --- markdown structure -----------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")


def headings(text: str) -> list[tuple[int, str]]:
    """(level, text) of the ATX headings outside fenced code blocks."""
    out = []
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            m = _HEADING.match(line)
            if m:
                out.append((len(m.group(1)), m.group(2).strip()))
    return out


def title_of(text: str, fallback: str) -> str:
    for level, heading in headings(text):
        if level == 1:
            return heading[:200]
    return fallback


def services_named(text: str, filename: str, services: Iterable[ServiceInfo]) -> tuple[str, ...]:
    """The services an ADR or runbook is about: its file name or text names the service
    (`kintell-connector`, as a whole word) or its folder (`services/kintell_connector`), or
    the file name contains the folder name (`kintell_connector-outage.md`)."""
    stem = filename.rsplit("/", 1)[-1].lower()
    found = []
    for s in services:
        word = re.compile(rf"(?<![\w-]){re.escape(s.name)}(?![\w-])")
        if (word.search(text) or word.search(stem) or f"services/{s.package}" in text
                or re.search(rf"(?<![a-z0-9]){re.escape(s.package)}(?![a-z0-9])", stem)):
            found.append(s.name)
    return tuple(sorted(found))


# --- documents and links ----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceDoc:
    """A document as a scan found it."""

    key: str  # unique per tenant: the repo path, or `openapi:<service>` / `asyncapi:<service>`
    kind: str
    title: str
    content: str
    services: tuple[str, ...] = ()  # the services it is about
    path: str | None = None  # repo path (None for generated specs)

    @property
    def sha256(self) -> str:
        return sha256_text(self.content)


LinkKind = Literal["service", "endpoint", "event"]


@dataclass(frozen=True, order=True)
class Link:
    doc_key: str
    kind: str  # service | endpoint | event
    service: str
    target: str  # service name, `METHOD /path` (OpenAPI spelling) or event type


def doc_links(doc: SourceDoc, catalogue: Catalogue) -> set[Link]:
    """The links of one document.

    - to each service it is about;
    - a human document (README, ADR, runbook) links an endpoint of a service it is about when it
      mentions the endpoint's method and path (see `endpoint_mentions`, `best_routes`), and an
      event type of that service (consumed, produced or owned) when it mentions the type;
    - an OpenAPI document links every route of its service, an AsyncAPI document every event
      its service consumes or produces."""
    links: set[Link] = set()
    about = [s for s in (catalogue.service(n) for n in doc.services) if s is not None]
    for s in about:
        links.add(Link(doc.key, "service", s.name, s.name))
    if doc.kind == "openapi":
        for s in about:
            links.update(Link(doc.key, "endpoint", s.name, r.key) for r in s.routes)
        return links
    if doc.kind == "asyncapi":
        for s in about:
            links.update(Link(doc.key, "event", s.name, t) for t in s.spec_events)
        return links
    mentions = endpoint_mentions(doc.content)
    events = event_mentions(doc.content)
    for s in about:
        for m in mentions:
            for route in best_routes(m.method, m.path, s.routes):
                links.add(Link(doc.key, "endpoint", s.name, route.key))
        for t in s.events:
            if t in events:
                links.add(Link(doc.key, "event", s.name, t))
    return links


def compute_links(docs: Iterable[SourceDoc], catalogue: Catalogue) -> list[Link]:
    out: set[Link] = set()
    for doc in docs:
        out |= doc_links(doc, catalogue)
    return sorted(out)


# --- coverage ---------------------------------------------------------------------------------


def ratio(part: int, whole: int) -> float:
    """Share documented, 0..1. Nothing to document counts as fully documented (1.0)."""
    return 1.0 if whole == 0 else part / whole


def percent(share: float) -> float:
    return round(100 * share, 1)


@dataclass(frozen=True)
class ServiceCoverage:
    service: str
    endpoints_total: int
    endpoints_documented: int
    events_total: int
    events_documented: int
    undocumented_endpoints: tuple[str, ...] = ()
    undocumented_events: tuple[str, ...] = ()

    @property
    def endpoint_coverage(self) -> float:
        return ratio(self.endpoints_documented, self.endpoints_total)

    @property
    def event_coverage(self) -> float:
        return ratio(self.events_documented, self.events_total)

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "endpoints": {"total": self.endpoints_total, "documented": self.endpoints_documented,
                          "coverage": round(self.endpoint_coverage, 4), "percent": percent(self.endpoint_coverage),
                          "undocumented": list(self.undocumented_endpoints)},
            "events": {"total": self.events_total, "documented": self.events_documented,
                       "coverage": round(self.event_coverage, 4), "percent": percent(self.event_coverage),
                       "undocumented": list(self.undocumented_events)},
        }


@dataclass(frozen=True)
class CoverageTotals:
    endpoints_total: int
    endpoints_documented: int
    events_total: int
    events_documented: int

    @property
    def endpoint_coverage(self) -> float:
        return ratio(self.endpoints_documented, self.endpoints_total)

    @property
    def event_coverage(self) -> float:
        return ratio(self.events_documented, self.events_total)

    @property
    def overall(self) -> float:
        """Endpoints and events together, each counted once (not a mean of per-service ratios)."""
        return ratio(self.endpoints_documented + self.events_documented, self.endpoints_total + self.events_total)

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoints": {"total": self.endpoints_total, "documented": self.endpoints_documented,
                          "coverage": round(self.endpoint_coverage, 4), "percent": percent(self.endpoint_coverage)},
            "events": {"total": self.events_total, "documented": self.events_documented,
                       "coverage": round(self.event_coverage, 4), "percent": percent(self.event_coverage)},
            "overall": round(self.overall, 4),
            "overall_percent": percent(self.overall),
        }


def compute_coverage(catalogue: Catalogue, links: Iterable[Link], kinds: Mapping[str, str]) -> list[ServiceCoverage]:
    """Per service: how many of its endpoints and events a human document links (`kinds` maps a
    doc key to its kind; links of specs do not count)."""
    documented: set[tuple[str, str, str]] = {
        (link.service, link.kind, link.target) for link in links if kinds.get(link.doc_key) in HUMAN_KINDS
    }
    out = []
    for s in catalogue.services:
        endpoints = sorted({r.key for r in s.routes})
        events = list(s.events)
        missing_endpoints = tuple(e for e in endpoints if (s.name, "endpoint", e) not in documented)
        missing_events = tuple(e for e in events if (s.name, "event", e) not in documented)
        out.append(ServiceCoverage(
            service=s.name,
            endpoints_total=len(endpoints), endpoints_documented=len(endpoints) - len(missing_endpoints),
            events_total=len(events), events_documented=len(events) - len(missing_events),
            undocumented_endpoints=missing_endpoints, undocumented_events=missing_events,
        ))
    return out


def totals(coverage: Iterable[ServiceCoverage]) -> CoverageTotals:
    items = list(coverage)
    return CoverageTotals(
        endpoints_total=sum(c.endpoints_total for c in items),
        endpoints_documented=sum(c.endpoints_documented for c in items),
        events_total=sum(c.events_total for c in items),
        events_documented=sum(c.events_documented for c in items),
    )


# --- freshness --------------------------------------------------------------------------------


def is_stale(kind: str, last_changed_at: datetime, spec_changed_at: datetime | None) -> bool:
    """A human document is stale when a spec of its service changed after it last did."""
    return kind in HUMAN_KINDS and spec_changed_at is not None and spec_changed_at > last_changed_at


# --- capability -------------------------------------------------------------------------------


def _word_in(term: str, text: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", text.lower()) is not None


def matches_capability(term: str, *, title: str, heading_texts: Iterable[str], routes: Iterable[Route],
                       events: Iterable[str]) -> bool:
    """A document serves a capability (a keyword, case-insensitive) when its title or a heading
    contains it as a word, or an endpoint it links has it as an OpenAPI tag or a literal path
    segment, or an event it links has it as a segment of its type."""
    t = term.strip().lower()
    if not t:
        return False
    if _word_in(t, title) or any(_word_in(t, h) for h in heading_texts):
        return True
    for route in routes:
        if any(tag.lower() == t for tag in route.tags):
            return True
        if any(seg.lower() == t for seg in path_segments(route.path) if seg not in (PARAM, REST)):
            return True
    return any(t in event.split(".")[:-1] for event in events)


# --- drift ------------------------------------------------------------------------------------


class FindingKind(StrEnum):
    SPEC_CHANGED_WITHOUT_DOC = "spec_changed_without_doc"
    MISSING_DOC = "missing_doc"
    DOC_DELETED = "doc_deleted"
    DEAD_ENDPOINT_REFERENCE = "dead_endpoint_reference"
    UNREGISTERED_EVENT_REFERENCE = "unregistered_event_reference"
    UNDOCUMENTED_ENDPOINT = "undocumented_endpoint"
    UNDOCUMENTED_EVENT = "undocumented_event"


SEVERITY: dict[FindingKind, str] = {
    FindingKind.SPEC_CHANGED_WITHOUT_DOC: "error",
    FindingKind.MISSING_DOC: "error",
    FindingKind.DOC_DELETED: "error",
    FindingKind.DEAD_ENDPOINT_REFERENCE: "error",
    FindingKind.UNREGISTERED_EVENT_REFERENCE: "error",
    FindingKind.UNDOCUMENTED_ENDPOINT: "warning",
    FindingKind.UNDOCUMENTED_EVENT: "warning",
}

# A commit message line `Docs-Drift: skip` (or `refactor`) says the code change does not change
# behaviour: spec changes without a doc update are then waived (dead references are not).
_TRAILER = re.compile(r"^docs-drift:[ \t]*(skip|refactor)[ \t]*$", re.IGNORECASE | re.MULTILINE)
TRAILER_WAIVES = frozenset({FindingKind.SPEC_CHANGED_WITHOUT_DOC, FindingKind.MISSING_DOC})

ChangeType = Literal["added", "modified", "deleted"]


@dataclass(frozen=True)
class ChangedFile:
    path: str
    change: str  # added | modified | deleted


@dataclass(frozen=True)
class SpecChange:
    kind: str  # endpoint | event
    ref: str  # `METHOD /path` or an event type
    change: str  # added | removed | modified
    service: str | None = None


@dataclass(frozen=True)
class Waiver:
    """Waives matching findings (each given field must match; `path` is a glob)."""

    service: str | None = None
    kind: str | None = None
    path: str | None = None
    reason: str = ""

    def covers(self, finding: Finding) -> bool:
        if self.service is not None and finding.service != self.service:
            return False
        if self.kind is not None and finding.kind != self.kind:
            return False
        return not (self.path is not None and not (finding.path and fnmatch.fnmatch(finding.path, self.path)))


@dataclass(frozen=True)
class Finding:
    kind: str
    service: str | None
    path: str | None  # the file concerned
    ref: str | None  # the endpoint, event type or spec files concerned
    message: str
    severity: str = "error"
    waived: bool = False
    waived_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_spec_file(relative: str) -> bool:
    """Files of a service folder that define its public contract: api.py (routes), service.py
    (what it consumes and emits) and its migrations."""
    return relative in ("api.py", "service.py") or relative.startswith("migrations/")


def _finding(kind: FindingKind, service: str | None, path: str | None, ref: str | None, message: str) -> Finding:
    return Finding(kind=kind.value, service=service, path=path, ref=ref, message=message, severity=SEVERITY[kind])


@dataclass(frozen=True)
class DriftResult:
    findings: tuple[Finding, ...]
    touched_services: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not any(f.severity == "error" and not f.waived for f in self.findings)

    def counts(self) -> dict[str, int]:
        return {
            "error": sum(1 for f in self.findings if f.severity == "error" and not f.waived),
            "warning": sum(1 for f in self.findings if f.severity == "warning" and not f.waived),
            "waived": sum(1 for f in self.findings if f.waived),
        }


def _service_of_path(path: str) -> tuple[str, str] | None:
    """`services/<pkg>/<rest>` -> (pkg, rest)."""
    parts = path.split("/", 2)
    if len(parts) == 3 and parts[0] == "services" and parts[1] and not parts[1].startswith(("_", ".")):
        return parts[1], parts[2]
    return None


def dead_endpoint_refs(doc: SourceDoc, catalogue: Catalogue) -> list[EndpointMention]:
    """Mentions of `METHOD /path` that match no route of any service nor a chassis route."""
    routes = catalogue.all_routes() + [Route(m, p) for m, p in CHASSIS_ROUTES]
    dead = []
    seen = set()
    for m in endpoint_mentions(doc.content):
        key = (m.method, normalise_path(m.path))
        if key in seen:
            continue
        seen.add(key)
        if not best_routes(m.method, m.path, routes):
            dead.append(m)
    return dead


def unregistered_event_refs(doc: SourceDoc, catalogue: Catalogue) -> list[str]:
    return sorted(t for t in event_mentions(doc.content) if t not in catalogue.event_types)


def drift_check(
    *,
    catalogue: Catalogue,
    docs: Sequence[SourceDoc],
    changed: Sequence[ChangedFile],
    spec_changes: Sequence[SpecChange] = (),
    message: str | None = None,
    waivers: Sequence[Waiver] = (),
    scope: Literal["changed", "all"] = "changed",
) -> DriftResult:
    """Findings for one commit, given the catalogue and the documents as indexed.

    Diff rules (from `changed` and `spec_changes`):
    - spec_changed_without_doc: a service's api.py, service.py or migrations changed, a contract
      module defining an event the service owns or produces changed, or `spec_changes` names one
      of its endpoints/events, and its README.md is not added or modified in the same diff;
    - missing_doc: the same, for a service that has no README at all;
    - doc_deleted: a service's README.md is deleted while its service.py is not;
    - undocumented_endpoint / undocumented_event (warnings): `spec_changes` adds an endpoint or
      event the service's README (as indexed) does not mention, and the README is unchanged.
    Content rules, over the README of each service the diff touches plus the ADRs and runbooks
    that changed or are about a touched service (scope `all`: every document):
    - dead_endpoint_reference: the document names `METHOD /path` that no service serves (nor the
      chassis), or that `spec_changes` removes;
    - unregistered_event_reference: the document names an event type that is not registered."""
    changed_by_path = {c.path: c.change for c in changed}
    edited = {p for p, c in changed_by_path.items() if c in ("added", "modified")}
    deleted = {p for p, c in changed_by_path.items() if c == "deleted"}
    readme_of = {d.services[0]: d for d in docs if d.kind == "readme" and d.services}

    def name_of(package: str) -> str:
        s = catalogue.by_package(package)
        return s.name if s else package.replace("_", "-")

    def readme_path_of(service: str) -> str:
        s = catalogue.service(service)
        return s.readme_path if s else f"services/{service.replace('-', '_')}/README.md"

    touched: set[str] = set()
    spec_files: dict[str, list[str]] = {}  # service -> what changed (files, spec refs)
    removed_services: set[str] = set()
    findings: list[Finding] = []

    for path, change in sorted(changed_by_path.items()):
        located = _service_of_path(path)
        if located is None:
            continue
        package, rest = located
        service = name_of(package)
        touched.add(service)
        if rest == "service.py" and change == "deleted":
            removed_services.add(service)
        if is_spec_file(rest):
            spec_files.setdefault(service, []).append(path)

    # Contract modules: the services that own or produce an event defined there.
    event_refs = [c for c in spec_changes if c.kind == "event"]
    contract_types: dict[str, list[str]] = {}
    for t, module in catalogue.event_modules.items():
        contract_types.setdefault(module, []).append(t)
    changed_contracts = sorted(p for p in changed_by_path if p.startswith(CONTRACTS_EVENTS_DIR) and p.endswith(".py"))
    if changed_contracts and not event_refs:
        # Without `spec_changes` for events, every event of a changed module counts as changed.
        for module in changed_contracts:
            for t in sorted(contract_types.get(module, ())):
                for s in catalogue.services:
                    if t in s.owns or t in s.produces:
                        touched.add(s.name)
                        spec_files.setdefault(s.name, []).append(module)
    for c in event_refs:
        services = [c.service] if c.service else sorted(
            s.name for s in catalogue.services if c.ref in s.owns or c.ref in s.produces
        )
        for name in services:
            touched.add(name)
            spec_files.setdefault(name, []).append(f"{c.change} event {c.ref}")
    for c in spec_changes:
        if c.kind == "endpoint" and c.service:
            touched.add(c.service)
            spec_files.setdefault(c.service, []).append(f"{c.change} endpoint {c.ref}")

    for service, what in sorted(spec_files.items()):
        if service in removed_services:
            continue
        readme = readme_path_of(service)
        if readme in edited:
            continue
        refs = ", ".join(dict.fromkeys(what))
        if service not in readme_of or readme in deleted:
            if readme not in deleted:
                findings.append(_finding(FindingKind.MISSING_DOC, service, readme, refs,
                                         f"{service} changed its spec ({refs}) and has no {readme}"))
            continue
        findings.append(_finding(FindingKind.SPEC_CHANGED_WITHOUT_DOC, service, readme, refs,
                                 f"{service} changed its spec ({refs}) without updating {readme}"))

    for path in sorted(deleted):
        located = _service_of_path(path)
        if located and located[1] == "README.md":
            service = name_of(located[0])
            if service not in removed_services and catalogue.service(service) is not None:
                findings.append(_finding(FindingKind.DOC_DELETED, service, path, None,
                                         f"{path} was deleted but {service} still exists"))

    # spec_changes about endpoints/events added or removed.
    for c in spec_changes:
        service = c.service
        if service is None and c.kind == "event":
            owner = catalogue.event_owners.get(c.ref)
            service = owner if owner and catalogue.service(owner) else None
        if service is None:
            continue
        readme = readme_of.get(service)
        readme_path = readme_path_of(service)
        if readme is None or readme_path in edited:
            continue
        if c.kind == "endpoint":
            method, path = parse_endpoint(c.ref)
            mentioned = [m for m in endpoint_mentions(readme.content)
                         if (method is None or m.method == method)
                         and match_score(path_segments(m.path), path_segments(path)) is not None]
            if c.change == "removed" and mentioned:
                findings.append(_finding(FindingKind.DEAD_ENDPOINT_REFERENCE, service, readme_path, c.ref,
                                         f"{readme_path} still documents {c.ref}, which this change removes"))
            elif c.change == "added" and not mentioned:
                findings.append(_finding(FindingKind.UNDOCUMENTED_ENDPOINT, service, readme_path, c.ref,
                                         f"{c.ref} is new and {readme_path} does not mention it"))
        else:
            mentioned_event = c.ref in event_mentions(readme.content)
            if c.change == "removed" and mentioned_event:
                findings.append(_finding(FindingKind.UNREGISTERED_EVENT_REFERENCE, service, readme_path, c.ref,
                                         f"{readme_path} still names {c.ref}, which this change removes"))
            elif c.change == "added" and not mentioned_event:
                findings.append(_finding(FindingKind.UNDOCUMENTED_EVENT, service, readme_path, c.ref,
                                         f"{c.ref} is new and {readme_path} does not mention it"))

    # Content rules over the documents in scope.
    in_scope: list[SourceDoc] = []
    for doc in docs:
        if doc.kind not in HUMAN_KINDS or (doc.path and doc.path in deleted):
            continue
        if scope == "all" or (doc.path in changed_by_path) or any(s in touched for s in doc.services):
            in_scope.append(doc)
    for doc in sorted(in_scope, key=lambda d: d.key):
        owner = doc.services[0] if doc.kind == "readme" and doc.services else (doc.services[0] if len(doc.services) == 1 else None)
        for m in dead_endpoint_refs(doc, catalogue):
            findings.append(_finding(FindingKind.DEAD_ENDPOINT_REFERENCE, owner, doc.path, m.ref,
                                     f"{doc.path} line {m.line} names {m.ref}, which no service serves"))
        for t in unregistered_event_refs(doc, catalogue):
            findings.append(_finding(FindingKind.UNREGISTERED_EVENT_REFERENCE, owner, doc.path, t,
                                     f"{doc.path} names event type {t}, which is not registered"))

    return DriftResult(findings=tuple(_waive(_dedupe(findings), message, waivers)), touched_services=tuple(sorted(touched)))


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: dict[tuple, Finding] = {}
    for f in findings:
        seen.setdefault((f.kind, f.service, f.path, f.ref), f)
    order = {"error": 0, "warning": 1}
    return sorted(seen.values(), key=lambda f: (order.get(f.severity, 2), f.service or "", f.kind, f.path or "", f.ref or ""))


def _waive(findings: list[Finding], message: str | None, waivers: Sequence[Waiver]) -> list[Finding]:
    trailer = bool(message and _TRAILER.search(message))
    out = []
    for f in findings:
        by = None
        if trailer and f.kind in TRAILER_WAIVES:
            by = "commit message trailer Docs-Drift"
        else:
            for w in waivers:
                if w.covers(f):
                    by = "allowlist" + (f": {w.reason}" if w.reason else "")
                    break
        out.append(f if by is None else Finding(**{**asdict(f), "waived": True, "waived_by": by}))
    return out


# --- rendering --------------------------------------------------------------------------------


def shift_headings(text: str, by: int) -> str:
    """Push every ATX heading (outside code fences) `by` levels down, capped at 6."""
    out = []
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            m = re.match(r"^(#{1,6})([ \t].*)$", line)
            if m:
                line = "#" * min(6, len(m.group(1)) + by) + m.group(2)
        out.append(line)
    return "\n".join(out)


def render_spec_markdown(kind: str, content: str) -> str:
    """A short markdown view of an OpenAPI or AsyncAPI document (a table of what it declares)."""
    try:
        spec = json.loads(content)
    except ValueError:
        return "_(not valid JSON)_"
    lines: list[str] = []
    if kind == "openapi":
        lines += ["| Method | Path | Summary |", "|---|---|---|"]
        for path, operations in sorted(spec.get("paths", {}).items()):
            for method, op in sorted(operations.items()):
                summary = (op.get("summary") or "").replace("|", "\\|")
                lines.append(f"| {method.upper()} | `{path}` | {summary} |")
        if len(lines) == 2:
            lines.append("| | _no endpoints_ | |")
    else:
        lines += ["| Direction | Event | Summary |", "|---|---|---|"]
        for op in sorted(spec.get("operations", {}).values(), key=lambda o: (o.get("action", ""), o.get("channel", {}).get("$ref", ""))):
            ref = op.get("channel", {}).get("$ref", "").rsplit("/", 1)[-1]
            message = spec.get("components", {}).get("messages", {}).get(ref, {})
            summary = (op.get("summary") or "").replace("|", "\\|")
            lines.append(f"| {op.get('action', '')} | `{message.get('name', ref)}` | {summary} |")
        if len(lines) == 2:
            lines.append("| | _no events_ | |")
    return "\n".join(lines)


@dataclass(frozen=True)
class BundleEntry:
    title: str
    kind: str
    services: tuple[str, ...]
    path: str | None
    version: int
    sha256: str
    last_changed_at: datetime
    last_verified_at: datetime
    content: str
    stale: bool = False


def render_bundle(entries: Sequence[BundleEntry], *, heading: str = "Summit docs") -> str:
    """One markdown document: a heading per entry, its freshness line, then its text (headings
    pushed two levels down so they nest) or, for a spec, a table of what it declares."""
    out = [f"# {heading}", "", f"{len(entries)} document(s).", ""]
    for e in entries:
        where = e.path or f"{e.kind} of {', '.join(e.services)}"
        services = ", ".join(e.services) or "platform"
        out.append(f"## {e.title}")
        out.append("")
        out.append(
            f"_{e.kind} · {services} · `{where}` · version {e.version} · sha256 `{e.sha256[:12]}` · "
            f"last changed {e.last_changed_at.isoformat()} · last verified {e.last_verified_at.isoformat()}"
            + (" · **stale: its service's spec changed after it**" if e.stale else "") + "_"
        )
        out.append("")
        body = render_spec_markdown(e.kind, e.content) if e.kind in SPEC_KINDS else shift_headings(e.content.strip(), 2)
        out.append(body)
        out.append("")
    return "\n".join(out).rstrip() + "\n"

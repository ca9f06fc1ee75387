"""A small synthetic catalogue and documents for the unit tests (no I/O)."""

from __future__ import annotations

from services.docs_hub.domain import Catalogue, Route, ServiceInfo, SourceDoc

KINTELL_EVENTS = ("kintell.rating.created.v1", "kintell.session.completed.v1", "kintell.session.scheduled.v1")
PROFILE_UPDATED = "orchestration.profile.updated.v1"
COVERAGE = "governance.docs.coverage.reported.v1"
PROPOSAL = "governance.proposal.submitted.v1"

KINTELL = ServiceInfo(
    name="kintell-connector",
    package="kintell_connector",
    routes=(
        Route("POST", "/v1/import/kintell-sessions", tags=("kintell-connector",), summary="Import Sessions"),
        Route("GET", "/v1/imports/{import_id}", tags=("kintell-connector",)),
        Route("GET", "/v1/sessions", tags=("kintell-connector",)),
        Route("GET", "/v1/sessions/{session_id}", tags=("kintell-connector",)),
        Route("POST", "/v1/webhooks/session", tags=("kintell-webhooks",)),
    ),
    produces=KINTELL_EVENTS,
    owns=KINTELL_EVENTS,
)
PROFILE = ServiceInfo(
    name="unified-profile",
    package="unified_profile",
    routes=(
        Route("GET", "/v1/profiles"),
        Route("POST", "/v1/profiles/mappings"),
        Route("GET", "/v1/profiles/{profile_id}"),
        Route("PUT", "/v1/profiles/{profile_id}"),
    ),
    consumes=("kintell.session.completed.v1",),
    produces=(PROFILE_UPDATED,),
)
GATEWAY = ServiceInfo(
    name="api-gateway",
    package="api_gateway",
    routes=(Route("GET", "/api/{path}", template="/api/{path:path}"), Route("GET", "/health/all")),
)
DOCS_HUB = ServiceInfo(name="docs-hub", package="docs_hub", owns=(COVERAGE,), produces=(COVERAGE,))
QUIET = ServiceInfo(name="quiet", package="quiet")  # no routes, no events

CATALOGUE = Catalogue(
    services=(GATEWAY, DOCS_HUB, KINTELL, QUIET, PROFILE),
    event_types=frozenset({*KINTELL_EVENTS, PROFILE_UPDATED, COVERAGE, PROPOSAL}),
    event_modules={
        **{t: "libs/contracts/summit_contracts/events/kintell.py" for t in KINTELL_EVENTS},
        PROFILE_UPDATED: "libs/contracts/summit_contracts/events/orchestration.py",
        COVERAGE: "libs/contracts/summit_contracts/events/governance.py",
        PROPOSAL: "libs/contracts/summit_contracts/events/governance.py",
    },
    event_owners={**dict.fromkeys(KINTELL_EVENTS, "kintell-connector"), PROFILE_UPDATED: "unified-profile",
                  COVERAGE: "docs-hub", PROPOSAL: "schema-council"},
)


def readme(service: ServiceInfo, text: str) -> SourceDoc:
    return SourceDoc(key=service.readme_path, kind="readme", title=service.name, content=text,
                     services=(service.name,), path=service.readme_path)


def adr(name: str, text: str, *services: str, kind: str = "adr") -> SourceDoc:
    folder = "docs/adr" if kind == "adr" else "docs/runbooks"
    return SourceDoc(key=f"{folder}/{name}", kind=kind, title=name, content=text, services=tuple(services),
                     path=f"{folder}/{name}")


KINTELL_README = readme(KINTELL, """# kintell-connector

| Method | Path | |
|---|---|---|
| POST | `/v1/import/kintell-sessions?mapping=default` | import |
| GET | `/v1/imports/{id}` | a report |
| GET | `/v1/sessions?type=&status=` | list |

Emits `kintell.session.completed.v1` and `kintell.rating.created.v1`.
""")

PROFILE_README = readme(PROFILE, """# unified-profile

- `GET /v1/profiles/{profile_id}`, `PUT /v1/profiles/{profile_id}`
- `POST /v1/profiles/mappings`

Consumes kintell.session.completed.v1; emits orchestration.profile.updated.v1.
""")

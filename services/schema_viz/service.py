"""Declares schema-viz: ERDs, service-interaction and event-flow diagrams, and knowledge maps of
the platform itself, derived from the catalogue, the migrations and the HTTP route tables.

Consumes: nothing. Emits: nothing. Routes: POST /v1/export/diagram, GET /v1/maps/knowledge,
GET /v1/coverage, GET /v1/exports. Its one table logs exports (provenance of diagrams).
"""

from pathlib import Path

from services.schema_viz import api
from summit_common import Service

service = Service(
    name="schema-viz",
    description="Schema visualisation: ERDs, service and event-flow diagrams, knowledge maps from the catalogue",
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
)

"""Declares program-graph: what it consumes and serves (it emits nothing).

Consumes: the governance signals readiness rules read (readiness.FACT_EVENTS).
"""

from pathlib import Path

from services.program_graph import api, handlers, readiness
from services.program_graph.config import ProgramGraphSettings
from services.program_graph.rule_packs import load_packs
from summit_common import Service

# A broken rule pack should fail the start, not the first status query.
load_packs(ProgramGraphSettings().rule_packs_dir)

service = Service(
    name="program-graph",
    description="Program graph: versioned capabilities, milestones, services and tests; readiness gates from governance signals, critical path, topology",
    handlers=dict.fromkeys(readiness.FACT_EVENTS, handlers.on_fact),
    router=api.router,
    migrations=Path(__file__).parent / "migrations",
    emits=(),
)

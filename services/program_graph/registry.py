"""Writing a tenant's program: one version per write, whatever the write (one node, an
import, the catalogue sync). Shared by the HTTP routes and the load_summit command.

Every write locks the tenant's program row, loads the current graph, applies the change in
memory, validates the whole result (references, cycles, rule packs, size) and only then
stores the new version. A write that changes nothing creates no version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import asyncpg

from services.program_graph import domain, store
from services.program_graph.config import ProgramGraphSettings
from services.program_graph.domain import Change, GraphError, NodeSpec
from services.program_graph.readiness import Evaluator, check_rule_params
from services.program_graph.rule_packs import load_packs
from summit_common.problems import Problem

# (current graph, node -> revision) -> the graph after the write
Mutation = Callable[[dict[str, NodeSpec], Mapping[str, int]], dict[str, NodeSpec]]


@dataclass(frozen=True)
class WriteResult:
    version: int
    changes: tuple[Change, ...]
    graph: dict[str, NodeSpec]
    revisions: dict[str, int]


def evaluator(settings: ProgramGraphSettings) -> Evaluator:
    return Evaluator(packs=load_packs(settings.rule_packs_dir), default_packs=settings.default_packs())


def graph_problem(exc: GraphError) -> Problem:
    status = 409 if exc.problem == "has_dependents" else 422
    return Problem(status, exc.problem.replace("_", " "), str(exc), problem=exc.problem, **exc.detail)


def check_packs(nodes: list[NodeSpec], ev: Evaluator) -> None:
    """422 for a node naming a missing rule pack, or overrides its pack does not accept."""
    problems = []
    for node in nodes:
        pack = ev.pack_of(node)
        if isinstance(pack, str):
            problems.append(f"{node.id}: unknown rule pack {pack!r}; loaded: {', '.join(sorted(ev.packs))}")
        elif pack is None and node.rule_params:
            problems.append(f"{node.id}: rule_params given but the node has no rule pack")
        elif pack is not None:
            problems += [f"{node.id}: {p}" for p in check_rule_params(pack, node.rule_params)]
    if problems:
        raise Problem(422, "invalid rules", "; ".join(problems[:10]), problems=problems[:50])


async def write(
    conn: asyncpg.Connection, *, tenant: str, actor: str, summary: str, settings: ProgramGraphSettings,
    mutate: Mutation,
) -> WriteResult:
    """Apply `mutate(graph, revisions)` to the current graph inside the caller's transaction
    (under the program's row lock). `mutate` may raise Problem or GraphError; nothing is
    stored then."""
    current_version = await store.lock_program(conn, tenant=tenant)
    stored = await store.load_graph(conn, tenant=tenant, version=current_version)
    try:
        after = mutate(dict(stored.nodes), stored.revisions)
        domain.validate(after)
    except GraphError as exc:
        raise graph_problem(exc) from None
    if len(after) > settings.max_nodes:
        raise Problem(422, "program too large", f"a program holds at most {settings.max_nodes} nodes; this one would hold {len(after)}")
    changes = domain.diff(stored.nodes, after)
    if not changes:
        return WriteResult(current_version, (), after, stored.revisions)
    check_packs([after[c.node_id] for c in changes if c.op != "deleted"], evaluator(settings))
    version = current_version + 1
    await store.write_version(conn, tenant=tenant, version=version, changed_by=actor, summary=summary, changes=changes, after=after)
    revisions = {n: r for n, r in stored.revisions.items() if n in after}
    revisions.update({c.node_id: version for c in changes if c.op != "deleted"})
    return WriteResult(version, tuple(changes), after, revisions)


def delete_nodes(node_ids: list[str]) -> Mutation:
    def mutate(graph: dict[str, NodeSpec], revisions: Mapping[str, int] | None = None) -> dict[str, NodeSpec]:
        blocked = domain.delete_blockers(graph, node_ids)
        if blocked:
            text = "; ".join(f"{n} is needed by {', '.join(d)}" for n, d in blocked.items())
            raise GraphError("has_dependents", f"cannot delete: {text}", dependents=blocked)
        for node_id in node_ids:
            graph.pop(node_id, None)
        return graph

    return mutate

"""The benchmark script keeps working (small sizes; nothing is timed or compared to a target here)."""

from __future__ import annotations

from services.program_graph import bench


def test_the_benchmark_runs_every_operation_and_checks_assess_against_bfs():
    results = bench.run(nodes=300, repeat=1, seed=3)
    assert [r["operation"] for r in results] == [
        "impact/assess", "catalogue load", "critical path", "topology json", "topology mermaid", "readiness"]
    assert all(r["seconds"] > 0 and r["baseline_seconds"] > 0 for r in results)


def test_the_synthetic_program_is_a_valid_dag_of_the_requested_size():
    import random

    program = bench.synthetic_program(500, random.Random(1))
    assert len(program) == 500
    bench.domain.validate(program)

"""Benchmark: SROI + VIS recomputation of one company-period with 100k contributing facts
(pure domain path over in-memory facts), against summing 100k floats in the same run.

    .venv/bin/python services/impact_calculator/bench.py
"""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, datetime, timedelta

from services.impact_calculator import calculator, domain

N = 100_000


def best_of(fn, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    rng = random.Random(7)
    cfg = calculator.config()
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    kinds = ["course", "credential", "milestone", "score"]
    dims = ["confidence", "belonging", "language_level_proxy", "job_readiness"]
    outcome_facts = [(k, rng.choice(dims), rng.random()) for k in (rng.choice(kinds) for _ in range(N // 2))]
    sessions = [domain.SessionFact(f"S{i}", f"V{i % 500}", f"P{i % 5000}", 45.0, t0 + timedelta(hours=i % 2000))
                for i in range(N // 4)]
    ratings = [(f"S{i}", float(rng.randint(1, 5))) for i in range(N // 8)]
    outcomes = [(f"P{i % 5000}", rng.random()) for i in range(N // 8)]
    floats = [rng.random() for _ in range(N)]

    def recompute():
        counts = domain.count_outcomes(outcome_facts, cfg.q2q_threshold)
        sroi = domain.compute_sroi(counts, 1e6, cfg)
        vis = domain.compute_vis(domain.volunteer_stats(sessions, ratings, outcomes), "2025-Q1", cfg)
        return domain.figures(sroi, vis)

    baseline = best_of(lambda: math.fsum(floats))
    sum_builtin = best_of(lambda: sum(floats))
    full = best_of(recompute)
    print(f"facts: {N} ({len(outcome_facts)} outcome, {len(sessions)} sessions, {len(ratings)} ratings, {len(outcomes)} scores)")
    print(f"baseline math.fsum(100k floats): {baseline * 1e3:.2f} ms  (sum(): {sum_builtin * 1e3:.2f} ms)")
    print(f"SROI+VIS recompute (pure domain): {full * 1e3:.2f} ms  = {full / baseline:.1f}x baseline")
    print(f"figures: {recompute()}")


if __name__ == "__main__":
    main()

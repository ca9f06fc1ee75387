"""Benchmark: SROI + VIS recomputation of one company-period with 100k contributing facts,
(1) the pure domain path over in-memory facts, against summing 100k floats in the same run;
(2) the real path (SQL aggregates over 100k stored facts + domain + save, in one unit of work),
against one `count(*)` scan of the same facts in the same run.

    .venv/bin/python services/impact_calculator/bench.py   (NATS_URL/DATABASE_URL, else embedded)
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from services.impact_calculator import calculator, domain
from services.impact_calculator.service import service
from summit_common.embedded import nats_and_postgres
from summit_common.runtime import ServiceRuntime
from summit_common.settings import Settings

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


def stored_facts(company: str, rng: random.Random) -> list[tuple]:
    """100k facts of one quarter: outcomes, sessions, ratings and q2q scores, as the handlers store them."""
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(N):
        at = t0 + timedelta(minutes=i % 120_000)
        kind = ("course", "credential", "session", "rating", "score")[i % 5]
        rows.append((company, f"{kind}:{i}", f"ev-{i}", "bench", kind, "2025-Q1", at.strftime("%Y-%m"), at,
                     rng.choice(["confidence", "belonging", "job_readiness"]) if kind == "score" else None,
                     45.0 if kind == "session" else float(rng.randint(1, 5)) if kind == "rating" else rng.random(),
                     f"p:{i % 5000}", f"v:{i % 500}" if kind == "session" else None,
                     f"S{i - 1}" if kind == "rating" else f"S{i}" if kind == "session" else None, []))
    return rows


async def stored() -> None:
    with nats_and_postgres() as servers:
        tag = uuid.uuid4().hex[:6]
        settings = Settings(NATS_URL=servers.nats_url, DATABASE_URL=servers.database_url, subject_prefix=f"b{tag}.",
                            schema_suffix=f"_b{tag}", jwt_secret="bench", log_level="WARNING")
        runtime = ServiceRuntime(service, settings)
        await runtime.start(consume=False, workers=False)
        try:
            async with runtime.pool.acquire() as conn:
                await conn.copy_records_to_table("facts", records=stored_facts("bench", random.Random(7)), columns=[
                    "company_id", "fact_key", "event_id", "event_type", "kind", "quarter", "month", "occurred_at", "label",
                    "value", "participant", "volunteer", "session_id", "evidence_ids"])
                await conn.execute("ANALYZE facts")

            async def timed(work) -> float:
                best = float("inf")
                for _ in range(5):
                    started = time.perf_counter()
                    await work()
                    best = min(best, time.perf_counter() - started)
                return best

            async def scan():
                async with runtime.pool.acquire() as conn:
                    await conn.fetchval("SELECT count(*) FROM facts WHERE company_id = 'bench' AND quarter = '2025-Q1'")

            async def recompute():
                async with runtime.unit_of_work(tenant="bench") as uow:
                    await calculator.recompute(uow, company="bench", period="2025-Q1")

            baseline, full = await timed(scan), await timed(recompute)
            print(f"stored: {N} facts in Postgres; baseline count(*) scan of them: {baseline * 1e3:.1f} ms")
            print(f"SROI+VIS recompute (SQL aggregates + domain + save): {full * 1e3:.1f} ms = {full / baseline:.1f}x baseline")
        finally:
            async with runtime.pool.acquire() as conn:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{runtime.schema}" CASCADE')
            await runtime.stop()


if __name__ == "__main__":
    main()
    asyncio.run(stored())

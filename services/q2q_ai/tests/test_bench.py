"""The benchmark script runs end to end on a few texts (a smoke test: nothing about speed is asserted)."""

from __future__ import annotations

from services.q2q_ai import bench, domain


def test_bench_runs_and_reports_every_pass(capsys):
    rates = bench.run(20, 1, seed=3)
    assert set(rates) == {"regex scan (baseline)", "masking only", "mask + score (lexicon)"}
    assert all(r > 0 for r in rates.values())
    out = capsys.readouterr().out
    assert "texts/s" in out and "x slower than regex scan" in out and "model_version lexicon:" in out


def test_bench_texts_are_seeded_and_carry_pii_to_mask():
    assert bench.make_texts(50, 1) == bench.make_texts(50, 1) != bench.make_texts(50, 2)
    texts = bench.make_texts(200, 1)
    assert any(domain.find_pii(t) for t, _ in texts)
    assert all(domain.find_pii(domain.mask(t, known_names=k)) == [] for t, k in texts)

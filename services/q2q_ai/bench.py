"""Throughput of the default (lexicon) provider: `.venv/bin/python -m services.q2q_ai.bench`.

Scores a fixed, seeded set of synthetic texts (cue sentences, neutral sentences, emails, phone
numbers and names) the way the handler does, minus SQL: mask, segment, score. Prints texts
per second and the ratio against two baselines measured in the same run on the same texts:

  (a) a plain regex scan for emails and phone numbers (the cheapest useful pass over a text),
  (b) masking alone (what every incoming text costs before it is stored).

Best of --repeat rounds each, so a noisy neighbour on a shared machine hurts less. Not a test:
nothing is asserted, numbers are only meaningful as ratios on one machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence

from services.q2q_ai import domain
from services.q2q_ai.providers import LexiconProvider

CUE_SENTENCES = [
    "I feel much more confident now.", "At first I was very nervous.", "I made friends in the choir.",
    "I still feel lonely in the evenings.", "I did not understand the doctor.", "My Norwegian is B1 now.",
    "I had a job interview last week!", "My CV is ready and I applied for two jobs.", "They welcomed me warmly.",
    "I am not afraid to speak up anymore.", "Sometimes I need an interpreter.", "I got the job.",
]
NEUTRAL = [
    "We met at the library on Tuesday.", "The weather was cold and it rained.", "We talked about food and music.",
    "The session lasted forty five minutes.", "Next time we will visit the museum.", "We drank coffee.",
]
PII = [
    "My name is Amira Haddad.", "Write to amira.h@example.com if needed.", "Call me on +47 912 34 567.",
    "My buddy Ingrid helped a lot.", "Hi Omar, thanks for today.", "Phone (555) 123-4567 after five.",
]


def make_texts(n: int, seed: int) -> list[tuple[str, tuple[str, ...]]]:
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        parts = rng.choices(CUE_SENTENCES, k=rng.randint(1, 4)) + rng.choices(NEUTRAL, k=rng.randint(0, 4))
        if rng.random() < 0.6:
            parts.append(rng.choice(PII))
        rng.shuffle(parts)
        texts.append((" ".join(parts), ("ingrid.hansen", f"K-{rng.randint(1000, 9999)}")))
    return texts


def rate(work: Callable[[], object], count: int, repeat: int) -> float:
    """Best texts/second over `repeat` rounds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return count / best


def run(n: int, repeat: int, seed: int) -> dict[str, float]:
    texts = make_texts(n, seed)
    provider = LexiconProvider()
    raw: Sequence[str] = [t for t, _ in texts]

    def regex_scan() -> None:
        for text in raw:
            domain.EMAIL_RE.findall(text)
            domain.PHONE_RE.findall(text)

    def masking() -> None:
        for text, names in texts:
            domain.mask(text, known_names=names)

    def full() -> None:
        for text, names in texts:
            provider.analyse(domain.mask(text, known_names=names))

    full()  # warm up (regex compilation, lexicon index)
    rates = {"regex scan (baseline)": rate(regex_scan, n, repeat), "masking only": rate(masking, n, repeat),
             "mask + score (lexicon)": rate(full, n, repeat)}
    analyses = [provider.analyse(domain.mask(t, known_names=k)) for t, k in texts]
    assert analyses == [provider.analyse(domain.mask(t, known_names=k)) for t, k in texts], "not deterministic"
    print(f"q2q-ai bench: {n} synthetic texts (seed {seed}), mean {statistics.mean(len(t) for t in raw):.0f} chars, "
          f"{statistics.mean(len(a.scores) for a in analyses):.2f} dimensions scored per text, best of {repeat}")
    print(f"model_version {provider.model_version}")
    baseline = rates["regex scan (baseline)"]
    print(f"{'pass':<26}{'texts/s':>12}{'x slower than regex scan':>28}")
    for name, value in rates.items():
        print(f"{name:<26}{value:>12,.0f}{baseline / value:>28.1f}")
    print(f"scoring costs {rates['masking only'] / rates['mask + score (lexicon)']:.1f}x masking alone")
    return rates


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    run(args.texts, args.repeat, args.seed)


if __name__ == "__main__":
    main()

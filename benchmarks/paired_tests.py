"""Cost of the paired tests of displayed seed means, as ratios measured in one run.

A 10-class test set of 2,000 samples, rows of two seeds each: the time of the joint
bootstrap interval alone (1,000 resamples, what a delta's interval costs) against the full
paired comparison (interval plus the permutation test with up to 2,000 swaps), per compared
row and metric, for F1 (confusion counts) and AUROC (the costly metric), for a row that is
clearly worse (every swap is drawn) and one that is tied (the test stops at its 100th hit).

    python benchmarks/paired_tests.py
"""

from __future__ import annotations

import time

import numpy as np

from harness.stats.bootstrap import bootstrap_distribution
from harness.stats.paired import compare_many_with_top
from harness.stats.resample import Resampler
from harness.stats.samples import SampleSet

N, K, SEEDS = 2000, 10, 2


def row(rng: np.random.Generator, labels: np.ndarray, skill: float) -> SampleSet:
    logits = rng.normal(0, 1, (SEEDS, N, K))
    logits[:, np.arange(N), labels] += skill
    e = np.exp(logits)
    return SampleSet(tuple(f"c{k}" for k in range(K)), tuple(f"s{i:05d}" for i in range(N)), labels,
                     e / e.sum(axis=2, keepdims=True), tuple(range(SEEDS)))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    rng = np.random.default_rng(0)
    labels = np.arange(N) % K
    top = row(rng, labels, 2.0)
    for kind, other in (("worse", row(rng, labels, 1.6)), ("tied", row(rng, labels, 2.0))):
        for metric in ("f1_macro", "auroc"):
            start = time.perf_counter()
            for s in (top, other):
                bootstrap_distribution(s, Resampler(labels, 1000, 0), [metric])
            interval = time.perf_counter() - start
            start = time.perf_counter()
            found = compare_many_with_top(("top", top), [("other", other)], [metric], n_resamples=1000,
                                          n_permutations=2000)
            full = time.perf_counter() - start
            print(f"{kind} row, {metric}: interval only {interval:.2f} s, interval + permutation test {full:.2f} s, "
                  f"ratio {full / interval:.1f}x (p = {found[metric][0].p:.4g}; {SEEDS} seeds, N={N}, K={K})")
    exact = timed(lambda: compare_many_with_top(("top", top), [("other", other)], ["accuracy"], n_resamples=1000))
    print(f"accuracy (exact sign-flip test + interval): {exact:.2f} s")


if __name__ == "__main__":
    main()

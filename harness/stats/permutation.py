"""Paired permutation (swap) tests of the displayed statistic of two rows.

Two rows predicted the same samples. Under the null hypothesis that the rows are
exchangeable, which row made which prediction of a sample is arbitrary, so swapping the
two rows' predictions of any set of samples gives an equally likely outcome. The test
statistic is the displayed one: ``delta = stat(B) - stat(A)``, where each side's
``stat`` is the mean over its seeds of the per-seed metric. Each permutation swaps a
random subset of samples (all seeds of a sample swap together) and recomputes both
sides; the two-sided p-value is the share of permutations with ``|delta*| >= |delta|``.
For a metric that is a mean over samples (accuracy) a swap flips the sign of the
sample's difference: this is the sign-flip test, and it is also called that below.

- Rows with different seed counts: both seed stacks are repeated up to the least
  common multiple of the counts, so seed slices pair up one to one and each side's
  seed mean is unchanged.
- A swapped row's metric is the metric of the doubled pool (A's and B's predictions of
  every sample) under 0/1 weights that pick one prediction per sample, so the
  vectorised weighted metrics of :mod:`harness.stats.weighted` evaluate every
  permutation at once. That holds for every metric built on confusion counts, for the
  AUROC (two predictions of one sample share its label, so they never form a
  positive/negative pair) and for the calibration metrics.
- Exact where it exists: accuracy gets the exact sign-flip distribution (a convolution
  over the samples' differences, which are multiples of ``1 / L`` for ``L`` paired seed
  slices); any metric whose rows differ on few enough samples that every swap pattern
  fits in the permutation budget is enumerated completely. Otherwise Monte Carlo with
  ``p = (1 + hits) / (R + 1)``, whose smallest attainable value is ``1 / (R + 1)``: the
  budget ``R`` is configurable and reported beside each table.
- Sequential stopping (Besag and Clifford, 1991): a metric whose swaps reach
  ``stop_after`` hits (100 by default) after ``l`` swaps stops there with ``p = hits / l``,
  a valid p-value of its own. Clearly tied rows therefore cost a few hundred swaps, and
  the full budget goes to the rows whose p-value is small, where its floor matters.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from harness.stats.bootstrap import resampled_metrics
from harness.stats.samples import SampleSet

DEFAULT_PERMUTATIONS = 2000
STOP_AFTER = 100  # hits that end a metric's Monte Carlo swaps early (sequential p-value)
CHUNK = 128
TOLERANCE = 1e-12  # deltas closer than this to the observed one count as equal (float sums)


@dataclass(frozen=True)
class PermutationResult:
    """A two-sided paired permutation test.

    Attributes:
        delta: observed ``stat(B) - stat(A)``.
        p: two-sided p-value.
        method: ``"sign-flip exact"``, ``"permutation exact"`` or ``"permutation"``
            (Monte Carlo).
        p_min: the smallest p-value this test could have given on these data.
        n: swap patterns evaluated (``2**m`` when enumerated); 0 where the exact
            distribution was computed by convolution.
    """

    delta: float
    p: float
    method: str
    p_min: float
    n: int


def paired_stacks(a: SampleSet, b: SampleSet) -> tuple[np.ndarray, np.ndarray]:
    """Both seed stacks repeated to their least common multiple, ``[L, N, K]`` each."""
    n = math.lcm(a.n_seeds, b.n_seeds)
    return a.proba[np.arange(n) % a.n_seeds], b.proba[np.arange(n) % b.n_seeds]


def swapped_statistics(
    flips: np.ndarray, labels: np.ndarray, pa: np.ndarray, pb: np.ndarray, classes: Sequence[str], names: Sequence[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each side's seed-mean metric after swapping the flagged samples.

    Args:
        flips: ``[R, N]`` 0/1; 1 swaps the sample's predictions between the rows.
        labels: ``[N]``.
        pa, pb: ``[L, N, K]`` paired seed stacks (:func:`paired_stacks`).
        classes: ``K`` names.
        names: metrics.

    Returns:
        Metric to ``(stat_a [R], stat_b [R])``.
    """
    keep = 1.0 - flips
    both = np.concatenate([labels, labels])
    weights_a = np.concatenate([keep, flips], axis=1)  # [R, 2N] A keeps its own unless swapped
    weights_b = np.concatenate([flips, keep], axis=1)
    sums: dict[str, list[np.ndarray]] = {}
    for sa, sb in zip(pa, pb):
        pool = np.concatenate([sa, sb])  # [2N, K] A's predictions, then B's
        ma = resampled_metrics(weights_a, both, pool, classes, names)
        mb = resampled_metrics(weights_b, both, pool, classes, names)
        for k in ma:
            acc = sums.setdefault(k, [np.zeros(len(flips)), np.zeros(len(flips))])
            acc[0] += ma[k]
            acc[1] += mb[k]
    return {k: (v[0] / len(pa), v[1] / len(pa)) for k, v in sums.items()}


def _flip_chunks(n: int, positions: np.ndarray, n_permutations: int, seed: int, exact: bool) -> Iterator[np.ndarray]:
    """``[r, N]`` swap patterns: every pattern over ``positions`` when exact, else random ones."""
    m = len(positions)
    total = 2**m if exact else n_permutations
    rng = np.random.default_rng(seed)
    for start in range(0, total, CHUNK):
        r = min(CHUNK, total - start)
        out = np.zeros((r, n))
        if exact:
            codes = np.arange(start, start + r)[:, None]
            out[:, positions] = (codes >> np.arange(m)[None, :]) & 1
        else:
            out[:, positions] = rng.integers(0, 2, size=(r, m))
        yield out


def _differing(pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Samples whose predictions differ between the rows in some paired seed slice."""
    return np.flatnonzero((pa != pb).any(axis=(0, 2)))


def permutation_tests(
    a: SampleSet,
    b: SampleSet,
    names: Sequence[str],
    *,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    stop_after: int | None = STOP_AFTER,
) -> dict[str, PermutationResult]:
    """Paired swap tests of ``stat(B) - stat(A)`` for each metric.

    Args:
        a, b: two rows' predictions on the same samples (checked by the caller).
        names: metrics (no split prefix).
        n_permutations: Monte Carlo budget; also the largest enumeration (``2**m <=
            n_permutations`` swaps of the ``m`` samples the rows disagree on are
            enumerated exactly).
        seed: seed of the random swaps.
        stop_after: end a metric's Monte Carlo swaps once this many reach the observed
            ``|delta|`` (None: always the whole budget).

    Returns:
        Metric to :class:`PermutationResult`.
    """
    names = list(names)
    out: dict[str, PermutationResult] = {}
    if "accuracy" in names:
        out["accuracy"] = sign_flip_accuracy(a, b)
    rest = [m for m in names if m != "accuracy"]
    if not rest:
        return out
    pa, pb = paired_stacks(a, b)
    n = len(a.labels)
    observed = swapped_statistics(np.zeros((1, n)), a.labels, pa, pb, a.classes, rest)
    positions = _differing(pa, pb)
    exact = 2 ** len(positions) <= n_permutations
    hits = {m: 0 for m in observed}
    valid = {m: 0 for m in observed}
    active = list(observed)
    stopped: set[str] = set()
    total = 0
    for flips in _flip_chunks(n, positions, n_permutations, seed, exact):
        stats = swapped_statistics(flips, a.labels, pa, pb, a.classes, active)
        total += len(flips)
        for m, (sa, sb) in stats.items():
            d0 = abs(float(observed[m][1][0] - observed[m][0][0]))
            d = np.abs(sb - sa)
            hit = d[~np.isnan(d)] >= d0 - TOLERANCE  # in the order the swaps were drawn
            if not exact and stop_after is not None and hits[m] + int(hit.sum()) >= stop_after:
                # stop at the swap that gives the stop_after-th hit, exactly as the sequential test asks
                valid[m] += int(np.searchsorted(np.cumsum(hit), stop_after - hits[m])) + 1
                hits[m] = stop_after
                stopped.add(m)
            else:
                valid[m] += int(hit.size)
                hits[m] += int(hit.sum())
        active = [m for m in active if m not in stopped]
        if not active:
            break
    for m in observed:
        delta = float(observed[m][1][0] - observed[m][0][0])
        if math.isnan(delta) or valid[m] == 0:
            out[m] = PermutationResult(delta, math.nan, "permutation", math.nan, total)
        elif exact:
            # the identity and the all-swap pattern are among the enumerated ones: p >= 2 / 2**m
            p_min = min(1.0, 2.0 / 2 ** len(positions)) if len(positions) else 1.0
            out[m] = PermutationResult(delta, hits[m] / valid[m], "permutation exact", p_min, total)
        elif m in stopped:  # Besag-Clifford: stopped at the stop_after-th hit
            out[m] = PermutationResult(delta, hits[m] / valid[m], "permutation", 1 / (1 + n_permutations), valid[m])
        else:
            out[m] = PermutationResult(delta, (1 + hits[m]) / (1 + valid[m]), "permutation", 1 / (1 + valid[m]),
                                       valid[m])
    return out


def sign_flip_accuracy(a: SampleSet, b: SampleSet) -> PermutationResult:
    """Exact sign-flip test of the difference of seed-mean accuracies.

    Each sample's difference ``d_i = mean_seeds(B right) - mean_seeds(A right)`` is a
    multiple of ``1 / L`` (``L`` the lcm of the seed counts); the null distribution of
    ``sum(+-d_i)`` is the convolution of the samples' two-point distributions, computed
    on that integer grid.
    """
    pa, pb = paired_stacks(a, b)
    right_a = (pa.argmax(axis=2) == a.labels[None]).sum(axis=0)  # [N] slices right, of L
    right_b = (pb.argmax(axis=2) == a.labels[None]).sum(axis=0)
    steps = np.abs(right_b - right_a).astype(np.int64)
    steps = steps[steps > 0]
    observed = int((right_b - right_a).sum())
    delta = observed / (len(pa) * max(len(a.labels), 1))
    if steps.size == 0:
        return PermutationResult(delta, 1.0, "sign-flip exact", 1.0, 0)
    total = int(steps.sum())
    probs = np.zeros(2 * total + 1)  # index t + total holds P(sum == t)
    probs[total] = 1.0
    for s in steps:
        probs = 0.5 * (np.roll(probs, s) + np.roll(probs, -s))  # no wrap-around: |sum| <= total always
    sums = np.arange(-total, total + 1)
    p = float(probs[np.abs(sums) >= abs(observed)].sum())
    p_min = float(probs[np.abs(sums) >= total].sum())
    return PermutationResult(delta, min(1.0, p), "sign-flip exact", min(1.0, p_min), 0)

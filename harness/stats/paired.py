"""Paired comparisons on one shared test set.

Two rows (or one row in two runs) predicted the very same samples, so they are compared
sample by sample, which is far more sensitive than comparing two intervals. Every test
is about the statistic the leaderboard displays: each side's value is the mean over its
seeds of the per-seed metric.

- Delta and interval: the difference of the displayed means, with a percentile
  interval from a joint bootstrap (both rows evaluated on the same class-stratified
  resamples of the test set, every seed of each row on every resample).
- p-value: a paired permutation test that swaps the two rows' predictions of random
  samples (:mod:`harness.stats.permutation`). Accuracy gets the exact sign-flip
  distribution; between two single predictions (one seed each) it is McNemar's exact
  test (the two-sided binomial test on the discordant counts ``b``: the top row right
  and the other wrong, ``c``: the reverse), which that sign-flip test reduces to.
  Metrics on which the rows differ in few samples are enumerated exactly; the rest use
  ``R`` random swaps, ``p = (1 + hits) / (R + 1)``, so the smallest attainable p-value is
  ``1 / (R + 1)``: every result carries its own ``p_min``.
- The comparisons of every row with the top row form one family per metric; their
  p-values are Holm-adjusted. A row whose adjusted p-value is at least ``alpha`` (0.05)
  is *tied* with the top row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.stats.bootstrap import LEVEL, Interval, bootstrap_distribution, percentile_interval, seed_mean_metrics
from harness.stats.permutation import DEFAULT_PERMUTATIONS, permutation_tests
from harness.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED, Resampler
from harness.stats.samples import SampleSet, check_same_samples

ALPHA = 0.05
EXACT_BELOW: int | None = None  # None: always exact (the binomial tail is cheap for any b + c)


def mcnemar_p(b: int, c: int, *, exact_below: int | None = EXACT_BELOW) -> tuple[float, str]:
    """Two-sided McNemar p-value from the discordant counts.

    Args:
        b: samples the first classifier gets right and the second wrong.
        c: the reverse.
        exact_below: use the exact binomial test when ``b + c`` is below this, the
            chi-square approximation from there on; None: always exact.

    Returns:
        ``(p, method)``; method is ``"McNemar exact"`` or ``"McNemar chi-square"``.
    """
    n = b + c
    if exact_below is None or n < exact_below:
        tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
        return min(1.0, 2 * tail / 2**n), "McNemar exact"  # exact integer ratio, then one rounding
    statistic = max(abs(b - c) - 1, 0) ** 2 / n
    return math.erfc(math.sqrt(statistic / 2.0)), "McNemar chi-square"  # chi-square(1) survival function


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaNs left out and kept).

    The ``i``-th smallest of ``m`` p-values is multiplied by ``m - i`` (``i`` from 0),
    then a running maximum keeps the order, and values are capped at 1.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


@dataclass(frozen=True)
class PairedResult:
    """One row compared with the top row on one metric.

    Attributes:
        row: the compared row.
        metric: metric name (no split prefix).
        method: ``"McNemar exact"``, ``"sign-flip exact"``, ``"permutation exact"`` or
            ``"permutation"`` (Monte Carlo swaps).
        delta: the row's displayed value (seed mean) minus the top row's.
        p: the unadjusted two-sided p-value.
        p_holm: Holm-adjusted over the comparisons with the top row.
        verdict: ``"tied"``, ``"worse"``, ``"better"`` or ``"n/a"`` (no p-value).
        detail: e.g. ``"b=3, c=9"`` for McNemar.
        low: lower end of the joint-bootstrap interval of ``delta``.
        high: its upper end.
        p_min: the smallest p-value the test could have given on these data.
    """

    row: str
    metric: str
    method: str
    delta: float
    p: float
    p_holm: float
    verdict: str
    detail: str = ""
    low: float = math.nan
    high: float = math.nan
    p_min: float = math.nan


def _verdict(delta: float, p_holm: float, lower_is_better: bool, alpha: float) -> str:
    if math.isnan(p_holm):
        return "n/a"
    if p_holm >= alpha:
        return "tied"
    worse = delta > 0 if lower_is_better else delta < 0
    return "worse" if worse else "better"


def mcnemar_counts(top: SampleSet, other: SampleSet) -> tuple[int, int]:
    """``(b, c)`` of two single predictions: top right and other wrong, and the reverse."""
    top_right = top.proba[0].argmax(axis=1) == top.labels
    other_right = other.proba[0].argmax(axis=1) == other.labels
    return int(np.count_nonzero(top_right & ~other_right)), int(np.count_nonzero(~top_right & other_right))


def paired_p_values(
    top: SampleSet, other: SampleSet, metrics: Sequence[str], n_permutations: int, seed: int
) -> dict[str, tuple[float, str, str, float]]:
    """``(p, method, detail, p_min)`` per metric for ``other`` against ``top``."""
    out = {}
    rest = list(metrics)
    if "accuracy" in rest and top.n_seeds == 1 and other.n_seeds == 1:
        b, c = mcnemar_counts(top, other)
        p, method = mcnemar_p(b, c)
        out["accuracy"] = (p, method, f"b={b}, c={c}", min(1.0, 2.0 / 2 ** (b + c)) if b + c else 1.0)
        rest.remove("accuracy")
    for m, found in permutation_tests(top, other, rest, n_permutations=n_permutations, seed=seed).items():
        out[m] = (found.p, found.method, "", found.p_min)
    return out


def compare_many_with_top(
    top: tuple[str, SampleSet],
    others: Sequence[tuple[str, SampleSet]],
    metrics: Sequence[str],
    *,
    lower_is_better: Sequence[bool] | None = None,
    alpha: float = ALPHA,
    n_resamples: int = DEFAULT_RESAMPLES,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
    level: float = LEVEL,
) -> dict[str, list[PairedResult]]:
    """:func:`compare_with_top` for several metrics, sharing the bootstrap work.

    Args:
        lower_is_better: per metric, its direction (all higher-is-better when None).

    Returns:
        Metric name to one :class:`PairedResult` per row of ``others``; each metric is
        its own Holm family.
    """
    others = list(others)
    for name, samples in others:
        check_same_samples(top[1], samples, top[0], name)
    metrics = list(metrics)
    directions = dict(zip(metrics, lower_is_better or [False] * len(metrics)))
    if not others:
        return {m: [] for m in metrics}
    resampler = Resampler(top[1].labels, n_resamples, seed)
    ones = np.ones((1, len(top[1].labels)))
    sets = [top[1], *(s for _, s in others)]
    points = [seed_mean_metrics(s, ones, metrics) for s in sets]
    spreads = [bootstrap_distribution(s, resampler, metrics) for s in sets]
    raw: dict[str, list[tuple[float, float, float, tuple[float, str, str, float]]]] = {m: [] for m in metrics}
    for i, (_, other) in enumerate(others, start=1):
        tests = paired_p_values(top[1], other, metrics, n_permutations, seed)
        for m in metrics:
            delta = float(points[i][m][0] - points[0][m][0])
            low, high = percentile_interval(spreads[i][m] - spreads[0][m], level)
            raw[m].append((delta, low, high, tests[m]))
    out = {}
    for m in metrics:
        adjusted = holm([t[0] for *_, t in raw[m]])
        out[m] = [
            PairedResult(
                name, m, method, delta, p, float(q), _verdict(delta, float(q), directions[m], alpha), detail,
                low, high, p_min,
            )
            for (name, _), (delta, low, high, (p, method, detail, p_min)), q in zip(others, raw[m], adjusted)
        ]
    return out


def compare_with_top(
    top: tuple[str, SampleSet],
    others: Sequence[tuple[str, SampleSet]],
    metric: str,
    *,
    lower_is_better: bool = False,
    alpha: float = ALPHA,
    n_resamples: int = DEFAULT_RESAMPLES,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
) -> list[PairedResult]:
    """Test every other row against the top row on ``metric``, Holm-adjusted.

    Args:
        top: ``(name, predictions)`` of the top row.
        others: ``(name, predictions)`` of the rows to compare with it.
        metric: a name of :func:`harness.stats.bootstrap.metric_names`.
        lower_is_better: the metric's direction (for the verdict).
        alpha: significance level of the adjusted p-values.
        n_resamples: bootstrap resamples of the delta's interval.
        n_permutations: random swaps of the permutation test.
        seed: seed of the resampling and the swaps.

    Returns:
        One :class:`PairedResult` per row of ``others``, in the same order.

    Raises:
        HarnessError: a row was not evaluated on the top row's samples and labels.
    """
    found = compare_many_with_top(
        top, others, [metric], lower_is_better=[lower_is_better], alpha=alpha, n_resamples=n_resamples,
        n_permutations=n_permutations, seed=seed,
    )
    return found[metric]


def paired_delta_intervals(
    a: SampleSet,
    b: SampleSet,
    names: Iterable[str],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = LEVEL,
) -> dict[str, Interval]:
    """``b - a`` of each metric with a paired bootstrap interval.

    Both sides are evaluated on the same resamples; each side's metric is averaged over
    its seeds per resample, as the leaderboard's seed means are.

    Raises:
        HarnessError: the two were not evaluated on the same samples and labels.
    """
    check_same_samples(a, b, "the first", "the second")
    names = tuple(names)
    ones = np.ones((1, len(a.labels)))
    point_a, point_b = seed_mean_metrics(a, ones, names), seed_mean_metrics(b, ones, names)
    resampler = Resampler(a.labels, n_resamples, seed)
    spread_a, spread_b = bootstrap_distribution(a, resampler, names), bootstrap_distribution(b, resampler, names)
    return {
        k: Interval(float(point_b[k][0] - point_a[k][0]), *percentile_interval(spread_b[k] - spread_a[k], level), level)
        for k in point_a
    }

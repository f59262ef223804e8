"""Paired comparisons on one shared test set.

Two rows (or one row in two runs) predicted the very same samples, so they are compared
sample by sample, which is far more sensitive than comparing two intervals.

- Accuracy: McNemar's test on the discordant samples (``b``: the top row right and the
  other wrong; ``c``: the reverse). With ``b + c < 25`` the exact two-sided binomial
  p-value ``min(1, 2 * P(X <= min(b, c)))``, ``X ~ Binomial(b + c, 1/2)``; otherwise the
  chi-square statistic with continuity correction ``max(|b - c| - 1, 0)^2 / (b + c)``
  on one degree of freedom.
- Every other metric (F1, recall, AUROC, calibration ...): a paired bootstrap. Both rows
  are evaluated on the same resamples and the p-value is two-sided,
  ``min(1, 2 * min(P*(delta <= 0), P*(delta >= 0)))`` with the bootstrap proportions
  counted as ``(hits + 1) / (R + 1)`` so it is never zero.
- The comparisons of every row with the top row form one family per metric; their
  p-values are Holm-adjusted. A row whose adjusted p-value is at least ``alpha`` (0.05)
  is *tied* with the top row.

A row with several seeds is represented in these tests by its seed-averaged
probabilities (the seeds' soft-vote ensemble), which gives one prediction per sample as
McNemar needs. Deltas between two runs (:func:`paired_delta_intervals`) instead average
the per-seed metric, so they match the seed means shown on the leaderboards.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.stats.bootstrap import LEVEL, Interval, bootstrap_distribution, percentile_interval, seed_mean_metrics
from harness.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED, Resampler
from harness.stats.samples import SampleSet, check_same_samples

ALPHA = 0.05
EXACT_BELOW = 25
MCNEMAR_METRICS = frozenset({"accuracy"})


def mcnemar_p(b: int, c: int, *, exact_below: int = EXACT_BELOW) -> tuple[float, str]:
    """Two-sided McNemar p-value from the discordant counts.

    Args:
        b: samples the first classifier gets right and the second wrong.
        c: the reverse.
        exact_below: use the exact binomial test when ``b + c`` is below this.

    Returns:
        ``(p, method)``; method is ``"McNemar exact"`` or ``"McNemar chi-square"``.
    """
    n = b + c
    if n < exact_below:
        tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
        return min(1.0, 2 * tail / 2**n), "McNemar exact"
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


def bootstrap_p(deltas: np.ndarray) -> float:
    """Two-sided p-value of ``delta == 0`` from paired bootstrap deltas (NaNs left out)."""
    deltas = np.asarray(deltas, dtype=np.float64)
    deltas = deltas[~np.isnan(deltas)]
    if deltas.size == 0:
        return math.nan
    r = deltas.size
    below = (np.count_nonzero(deltas <= 0) + 1) / (r + 1)
    above = (np.count_nonzero(deltas >= 0) + 1) / (r + 1)
    return min(1.0, 2.0 * min(below, above))


@dataclass(frozen=True)
class PairedResult:
    """One row compared with the top row on one metric.

    Attributes:
        row: the compared row.
        metric: metric name (no split prefix).
        method: ``"McNemar exact"``, ``"McNemar chi-square"`` or ``"paired bootstrap"``.
        delta: the row's value minus the top row's (seed-averaged probabilities).
        p: the unadjusted two-sided p-value.
        p_holm: Holm-adjusted over the comparisons with the top row.
        verdict: ``"tied"``, ``"worse"``, ``"better"`` or ``"n/a"`` (no p-value).
        detail: e.g. ``"b=3, c=9"`` for McNemar.
    """

    row: str
    metric: str
    method: str
    delta: float
    p: float
    p_holm: float
    verdict: str
    detail: str = ""


def _verdict(delta: float, p_holm: float, lower_is_better: bool, alpha: float) -> str:
    if math.isnan(p_holm):
        return "n/a"
    if p_holm >= alpha:
        return "tied"
    worse = delta > 0 if lower_is_better else delta < 0
    return "worse" if worse else "better"


def _mcnemar_rows(top: SampleSet, others: list[tuple[str, SampleSet]]) -> list[tuple[float, float, str, str]]:
    def correct(s: SampleSet) -> np.ndarray:
        return s.mean_proba().argmax(axis=1) == s.labels

    top_right = correct(top)
    out = []
    for _, other in others:
        other_right = correct(other)
        b = int(np.count_nonzero(top_right & ~other_right))
        c = int(np.count_nonzero(~top_right & other_right))
        p, method = mcnemar_p(b, c)
        out.append(((c - b) / len(top.labels), p, method, f"b={b}, c={c}"))
    return out


def _bootstrap_rows(
    top: SampleSet, others: list[tuple[str, SampleSet]], metrics: Sequence[str], n_resamples: int, seed: int
) -> dict[str, list[tuple[float, float, str, str]]]:
    """Paired bootstrap of every metric at once: each row's resampled values are computed once."""
    resampler = Resampler(top.labels, n_resamples, seed)
    ones = np.ones((1, len(top.labels)))
    averaged = [top.seed_averaged(), *(s.seed_averaged() for _, s in others)]
    points = [seed_mean_metrics(s, ones, metrics) for s in averaged]
    spreads = [bootstrap_distribution(s, resampler, metrics) for s in averaged]
    return {
        m: [
            (
                float(points[i][m][0] - points[0][m][0]),
                bootstrap_p(spreads[i][m] - spreads[0][m]),
                "paired bootstrap",
                "",
            )
            for i in range(1, len(averaged))
        ]
        for m in metrics
    }


def compare_many_with_top(
    top: tuple[str, SampleSet],
    others: Sequence[tuple[str, SampleSet]],
    metrics: Sequence[str],
    *,
    lower_is_better: Sequence[bool] | None = None,
    alpha: float = ALPHA,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
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
    directions = dict(zip(metrics, lower_is_better or [False] * len(metrics)))
    if not others:
        return {m: [] for m in metrics}
    raw = {m: _mcnemar_rows(top[1], others) for m in metrics if m in MCNEMAR_METRICS}
    rest = [m for m in metrics if m not in MCNEMAR_METRICS]
    if rest:
        raw |= _bootstrap_rows(top[1], others, rest, n_resamples, seed)
    out = {}
    for m in metrics:
        adjusted = holm([p for _, p, _, _ in raw[m]])
        out[m] = [
            PairedResult(name, m, method, delta, p, float(q), _verdict(delta, float(q), directions[m], alpha), detail)
            for (name, _), (delta, p, method, detail), q in zip(others, raw[m], adjusted)
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
    seed: int = DEFAULT_SEED,
) -> list[PairedResult]:
    """Test every other row against the top row on ``metric``, Holm-adjusted.

    Args:
        top: ``(name, predictions)`` of the top row.
        others: ``(name, predictions)`` of the rows to compare with it.
        metric: a name of :func:`harness.stats.bootstrap.metric_names`; McNemar for
            ``accuracy``, the paired bootstrap otherwise.
        lower_is_better: the metric's direction (for the verdict).
        alpha: significance level of the adjusted p-values.
        n_resamples: bootstrap resamples.
        seed: seed of the resampling.

    Returns:
        One :class:`PairedResult` per row of ``others``, in the same order.

    Raises:
        HarnessError: a row was not evaluated on the top row's samples and labels.
    """
    found = compare_many_with_top(
        top, others, [metric], lower_is_better=[lower_is_better], alpha=alpha, n_resamples=n_resamples, seed=seed
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

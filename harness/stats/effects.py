"""Effects of an ablation axis, with a hierarchical bootstrap over seeds and test samples.

An effect is the paired difference ``stat(level) - stat(reference)`` of two rows that
differ only in one matrix axis, on the same test samples; ``stat`` is the displayed
seed mean of the per-seed metric. Its uncertainty has two sources, both resampled in
each of ``R`` rounds: which seeds were trained (each row's seeds drawn with
replacement, independently per row) and which test samples were drawn (one
class-stratified resample shared by every row, so the difference stays paired).

Each row's variance is split into a seed part (the variance of the per-seed metric over
its seeds, divided by their number: what averaging more seeds would shrink) and a
test-sampling part (the bootstrap variance of the seed mean with the seeds fixed: what
only a larger test set would shrink). For a pair whose interval contains zero, the
seeds needed to separate it at the observed effect come from the usual two-sided
power calculation (``z_{1-alpha/2} + z_{power}`` standard errors), where only the seed
part shrinks with more seeds; when the test-sampling part alone is too large no number
of seeds suffices and the answer is None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.stats.bootstrap import LEVEL, percentile_interval, resampled_metrics
from harness.stats.resample import Resampler
from harness.stats.samples import SampleSet

Z_ALPHA = 1.959963984540054  # two-sided 5%
Z_POWER = 0.8416212335729143  # 80% power


def per_seed_values(samples: SampleSet, resampler: Resampler, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """``(point [S], resampled [S, R])``: the metric of every seed, on the full set and each resample."""
    ones = np.ones((1, len(samples.labels)))
    point = np.array([resampled_metrics(ones, samples.labels, p, samples.classes, [metric])[metric][0]
                      for p in samples.proba])
    spread = []
    for p in samples.proba:
        parts = [resampled_metrics(w, samples.labels, p, samples.classes, [metric])[metric] for w in resampler.chunks()]
        spread.append(np.concatenate(parts))
    return point, np.asarray(spread)


def hierarchical_means(resampled: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``[R]`` seed means, each over a seed draw with replacement (``resampled``: ``[S, R]``)."""
    s, r = resampled.shape
    draws = rng.integers(0, s, size=(r, s))  # [R, S] seeds drawn for each round
    return resampled[draws, np.arange(r)[:, None]].mean(axis=1)


@dataclass(frozen=True)
class RowVariance:
    """Where a row's uncertainty comes from.

    Attributes:
        seed_var: variance of the per-seed metric over seeds / number of seeds (NaN with one seed).
        test_var: bootstrap variance of the seed mean over test resamples, seeds fixed.
        per_seed_var: variance of the per-seed metric over seeds (NaN with one seed).
        n_seeds: seeds of the row.
    """

    seed_var: float
    test_var: float
    per_seed_var: float
    n_seeds: int

    @property
    def seed_share(self) -> float:
        total = self.seed_var + self.test_var
        return math.nan if math.isnan(total) or total == 0 else self.seed_var / total


def row_variance(point: np.ndarray, resampled: np.ndarray) -> RowVariance:
    """:class:`RowVariance` from :func:`per_seed_values`."""
    s = len(point)
    per_seed = float(np.var(point, ddof=1)) if s > 1 else math.nan
    test = float(np.nanvar(resampled.mean(axis=0)))
    return RowVariance(per_seed / s if s > 1 else math.nan, test, per_seed, s)


def seeds_to_separate(effect: float, a: RowVariance, b: RowVariance, test_var_delta: float) -> int | None:
    """Seeds per row that would make ``effect`` significant at 5% with 80% power.

    ``test_var_delta`` is the test-sampling variance of the paired difference, which
    more seeds do not shrink. None when the seed variance is unknown (one seed) or when
    no number of seeds is enough.
    """
    if math.isnan(a.per_seed_var) or math.isnan(b.per_seed_var) or effect == 0 or math.isnan(effect):
        return None
    budget = (abs(effect) / (Z_ALPHA + Z_POWER)) ** 2 - test_var_delta
    if budget <= 0:
        return None
    return max(2, math.ceil((a.per_seed_var + b.per_seed_var) / budget))


@dataclass(frozen=True)
class Effect:
    """One level against the reference level of an axis.

    Attributes:
        level: the level.
        effect: mean over the matched pairs of ``stat(level) - stat(reference)``.
        low, high: the hierarchical-bootstrap interval.
        pairs: the matched ``(reference row, level row)`` pairs.
        seeds_needed: seeds per row to separate the pair at this effect (None: not
            needed because separated, or not reachable; see ``separated``).
        separated: the interval excludes zero.
    """

    level: str
    effect: float
    low: float
    high: float
    pairs: tuple[tuple[str, str], ...]
    seeds_needed: int | None
    separated: bool


def level_effect(
    level: str,
    pairs: list[tuple[str, str]],
    values: dict[str, tuple[np.ndarray, np.ndarray]],
    variances: dict[str, RowVariance],
    seed: int,
    level_ci: float = LEVEL,
) -> Effect:
    """The effect of ``level`` over its matched pairs (``values``: row to :func:`per_seed_values`)."""
    rng = np.random.default_rng(seed)
    point = float(np.mean([values[b][0].mean() - values[a][0].mean() for a, b in pairs]))
    rounds = np.mean([hierarchical_means(values[b][1], rng) - hierarchical_means(values[a][1], rng)
                      for a, b in pairs], axis=0)
    low, high = percentile_interval(rounds, level_ci)
    separated = not (low <= 0 <= high)
    needed = None
    if not separated:
        test_delta = float(np.nanvar(np.mean([values[b][1].mean(axis=0) - values[a][1].mean(axis=0)
                                              for a, b in pairs], axis=0)))
        found = [seeds_to_separate(point, variances[a], variances[b], test_delta) for a, b in pairs]
        needed = None if any(f is None for f in found) else max(found)
    return Effect(level, point, low, high, tuple(pairs), needed, separated)

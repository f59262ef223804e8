"""Percentile bootstrap intervals of every metric computable from per-sample predictions.

The test set is resampled with replacement, stratified by class
(:class:`~harness.stats.resample.Resampler`, 1000 resamples and seed 0 by default); each
metric is recomputed on every resample and the interval is the central ``level`` share
of those values (the 2.5th and 97.5th percentiles for 95%).

Rows with several seeds: all seeds were evaluated on the same test set, so each
resample is applied to every seed's predictions, the metric is computed per seed and
averaged over the seeds. The interval therefore describes the seed mean shown in the
leaderboard, and reflects test-sample uncertainty only; the spread between seeds is
reported separately as their standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.anomaly.metrics import defect_index
from harness.stats.calibration import DEFAULT_BINS, calibration_names, weighted_calibration
from harness.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED, Resampler
from harness.stats.samples import SampleSet
from harness.stats.weighted import weighted_classification, weighted_pr_metrics

LEVEL = 0.95
ANOMALY = ("image_aupr", "f1_max")  # the anomaly family's other image metrics, from the precision-recall points


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap interval.

    Attributes:
        point: the metric on the full test set (mean over seeds).
        low: lower end of the interval.
        high: upper end.
        level: coverage, e.g. 0.95.
    """

    point: float
    low: float
    high: float
    level: float = LEVEL

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def metric_names(classes: Sequence[str]) -> tuple[str, ...]:
    """Every metric (split prefix left out) that can be bootstrapped for these classes.

    With two classes, ``image_auroc`` (the ``anomaly`` metric family's) is the ROC AUC of
    the defect probability, which is ``auroc`` (a one-class row's probabilities are a
    monotone map of its scores, so their AUC is the scores'): it is resampled as ``auroc``.
    ``image_aupr`` and ``f1_max`` depend on the scores only through their order too, and
    are resampled from ``p(defect)``, the defect class being the one not named ``normal``,
    ``good`` or ``ok`` as in that family.
    """
    per_class = tuple(f"{key}_{c}" for c in classes for key in ("precision", "recall", "f1"))
    averaged = ("precision_macro", "recall_macro", "f1_macro", "f1_weighted")
    binary = ("image_auroc", *ANOMALY) if len(classes) == 2 else ()
    return ("accuracy", "balanced_accuracy", *per_class, *averaged, "auroc", *binary, *calibration_names(classes))


def resampled_metrics(
    weights: np.ndarray,
    labels: np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str],
    names: Iterable[str] | None = None,
    n_bins: int = DEFAULT_BINS,
) -> dict[str, np.ndarray]:
    """The named metrics of one seed's predictions under each weighting.

    Args:
        weights: ``[R, N]`` sample weights.
        labels: ``[N]`` true classes.
        proba: ``[N, K]`` probabilities.
        classes: ``K`` names.
        names: metrics to return (see :func:`metric_names`); all when None.
        n_bins: ECE bins.

    Returns:
        Name to ``[R]`` values, for the names that apply to these classes.
    """
    wanted = set(metric_names(classes) if names is None else names)
    out: dict[str, np.ndarray] = {}
    if wanted - set(calibration_names(classes)) - set(ANOMALY):
        out |= weighted_classification(weights, labels, proba, classes, auroc=bool({"auroc", "image_auroc"} & wanted))
        if "image_auroc" in wanted and "auroc" in out:
            out["image_auroc"] = out["auroc"]
    defect = defect_index(tuple(classes))
    if defect is not None and wanted & set(ANOMALY):
        out |= weighted_pr_metrics(weights, np.asarray(labels) == defect, proba[:, defect])
    if wanted & set(calibration_names(classes)):
        out |= weighted_calibration(weights, labels, proba, n_bins)
    return {k: v for k, v in out.items() if k in wanted}


def seed_mean_metrics(
    samples: SampleSet, weights: np.ndarray, names: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """Each metric computed per seed under each weighting, then averaged over seeds."""
    names = None if names is None else tuple(names)
    per_seed = [resampled_metrics(weights, samples.labels, p, samples.classes, names) for p in samples.proba]
    return {k: np.mean([m[k] for m in per_seed], axis=0) for k in per_seed[0]}


def bootstrap_distribution(
    samples: SampleSet, resampler: Resampler, names: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """``[R]`` seed-averaged values of each metric, one per resample."""
    names = None if names is None else tuple(names)
    parts = [seed_mean_metrics(samples, w, names) for w in resampler.chunks()]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` share of ``values`` (NaNs left out; NaN if none is left)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_intervals(
    samples: SampleSet,
    names: Iterable[str] | None = None,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = LEVEL,
) -> dict[str, Interval]:
    """Point value and percentile interval of each metric of one row.

    Args:
        samples: the row's predictions on one split, seeds stacked.
        names: metrics (no split prefix); all of :func:`metric_names` when None.
        n_resamples: bootstrap resamples.
        seed: seed of the resampling.
        level: interval coverage.

    Returns:
        Metric name to :class:`Interval`.
    """
    names = metric_names(samples.classes) if names is None else tuple(names)
    point = seed_mean_metrics(samples, np.ones((1, len(samples.labels))), names)
    spread = bootstrap_distribution(samples, Resampler(samples.labels, n_resamples, seed), names)
    return {k: Interval(float(point[k][0]), *percentile_interval(spread[k], level), level) for k in point}

"""What changed between two leaderboards or runs, row by row, with paired intervals.

Rows are matched by their label (the model configuration). For every matched row and
metric the comparison gives both seed means and their difference ``B - A``; where both
sides still hold per-sample test predictions on the same test set, the difference gets
a 95% paired bootstrap interval (:func:`harness.stats.paired.paired_delta_intervals`),
and a row whose interval lies entirely on the worse side of zero is *worse* on that
metric. The test sets are compared first by fingerprint (a hash of the sorted
``(sample_id, label)`` pairs); different test sets are refused. Without per-sample
predictions (a leaderboard whose run folder is gone) the comparison falls back to the
differences of the means and says so.

Exit status: 0, or 1 when ``--fail-on-regression METRIC`` finds a row significantly
worse on METRIC, or 2 when the comparison is refused (different test sets, or a
regression check that cannot be decided).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError

HEADLINE = ("test.accuracy", "test.balanced_accuracy", "test.f1_macro", "test.auroc", "test.ece", "test.brier")


class CompareRefused(HarnessError):
    """The two sides cannot be compared as asked."""

    exit_code = 2


@dataclass(frozen=True)
class MetricDelta:
    """One metric of one matched row: ``a``, ``b``, ``delta = b - a`` and its interval."""

    metric: str
    a: float
    b: float
    delta: float
    low: float = math.nan
    high: float = math.nan
    verdict: str = ""  # "better", "worse", "n.s." or "" without an interval


@dataclass
class RowChange:
    """A row present on both sides."""

    row: str
    rank_a: int
    rank_b: int
    deltas: list[MetricDelta] = field(default_factory=list)


@dataclass
class Comparison:
    """Everything ``harness compare`` reports."""

    a: str
    b: str
    rank_by: str
    metrics: list[str]
    rows: list[RowChange]
    new: list[tuple[str, int]]
    missing: list[tuple[str, int]]
    notes: list[str]
    settings: dict[str, Any]


def _verdict(metric: str, low: float, high: float) -> str:
    from harness.metrics import lower_is_better

    if math.isnan(low) or math.isnan(high):
        return ""
    if high < 0 or low > 0:
        improved = (high < 0) if lower_is_better(metric) else (low > 0)
        return "better" if improved else "worse"
    return "n.s."


def _check_fingerprints(a, b, row: str, samples_a, samples_b) -> None:
    fa = samples_a.fingerprint if samples_a is not None else a.rows[row].fingerprint
    fb = samples_b.fingerprint if samples_b is not None else b.rows[row].fingerprint
    if fa and fb and fa != fb:
        raise CompareRefused(
            f"row {row!r} was evaluated on different test sets: {a.label} has test set {fa}, {b.label} has {fb} "
            "(fingerprints of the sorted sample ids and labels); comparing them would be meaningless"
        )


def _samples(side, row: str, notes: list[str]):
    """The side's test predictions of ``row``, or None (with a note) when unusable."""
    try:
        return side.samples(row)
    except HarnessError as exc:
        notes.append(f"{side.label}: {exc}; differences without intervals")
        return None


def _row_change(a, b, row: str, metrics: list[str], n_resamples: int, seed: int, notes: list[str]) -> RowChange:
    from harness.stats.bootstrap import metric_names
    from harness.stats.paired import paired_delta_intervals

    samples_a, samples_b = _samples(a, row, notes), _samples(b, row, notes)
    _check_fingerprints(a, b, row, samples_a, samples_b)
    intervals = {}
    if samples_a is not None and samples_b is not None:
        names = [m.split(".", 1)[1] for m in metrics if m.startswith("test.")]
        names = [n for n in names if n in metric_names(samples_a.classes)]
        found = paired_delta_intervals(samples_a, samples_b, names, n_resamples=n_resamples, seed=seed)
        intervals = {f"test.{k}": v for k, v in found.items()}
    elif a.unavailable or b.unavailable:
        pass  # said once for the whole comparison
    else:
        notes.append(f"row {row!r}: no stored test predictions on one side; differences without intervals")
    change = RowChange(row, a.rows[row].rank, b.rows[row].rank)
    for m in metrics:
        va, vb = a.rows[row].means.get(m, math.nan), b.rows[row].means.get(m, math.nan)
        found = intervals.get(m)
        low, high = (found.low, found.high) if found else (math.nan, math.nan)
        change.deltas.append(MetricDelta(m, va, vb, vb - va, low, high, _verdict(m, low, high)))
    return change


def default_metrics(a, b) -> list[str]:
    """Both ranking metrics, then the headline and calibration metrics a matched row holds on both sides."""
    held = [set(a.rows[r].means) & set(b.rows[r].means) for r in b.rows if r in a.rows]
    common = set.union(*held) if held else set()
    return [m for m in dict.fromkeys([a.rank_by, b.rank_by, *HEADLINE]) if m in common]


def compare_sides(a, b, *, metrics: list[str] | None = None, n_resamples: int = 1000, seed: int = 0) -> Comparison:
    """Match rows by label and compare every metric (see the module docstring).

    Args:
        a: the reference side (:func:`harness.compare.sides.load_side`).
        b: the side compared with it.
        metrics: metric names; by default the ranking metric and the headline and
            calibration metrics both sides hold.
        n_resamples: bootstrap resamples of the paired intervals.
        seed: seed of the resampling.

    Raises:
        CompareRefused: a matched row was evaluated on different test sets.
    """
    matched = [r for r in b.rows if r in a.rows]
    metrics = default_metrics(a, b) if metrics is None else list(dict.fromkeys(metrics))
    notes = [
        f"no per-sample predictions: {s.unavailable}; differences are shown without intervals"
        for s in (a, b)
        if s.unavailable
    ]
    if a.rank_by != b.rank_by:
        notes.append(f"the two sides rank by different metrics: {a.rank_by} and {b.rank_by}")
    rows = [_row_change(a, b, r, metrics, n_resamples, seed, notes) for r in matched]
    return Comparison(
        a=a.label,
        b=b.label,
        rank_by=b.rank_by,
        metrics=list(metrics),
        rows=rows,
        new=[(r, s.rank) for r, s in b.rows.items() if r not in a.rows],
        missing=[(r, s.rank) for r, s in a.rows.items() if r not in b.rows],
        notes=notes,
        settings={"resamples": n_resamples, "seed": seed, "level": 0.95},
    )


def regressions(comparison: Comparison, metric: str) -> list[tuple[str, MetricDelta]]:
    """Rows significantly worse on ``metric`` in B than in A.

    Raises:
        CompareRefused: the metric is not compared, or a row has no interval for it.
    """
    if not comparison.rows:
        raise CompareRefused(f"--fail-on-regression {metric}: no row of {comparison.a} is in {comparison.b}")
    if metric not in comparison.metrics:
        raise CompareRefused(f"--fail-on-regression {metric}: not compared; compared: {', '.join(comparison.metrics)}")
    worse = []
    for change in comparison.rows:
        delta = next(d for d in change.deltas if d.metric == metric)
        if math.isnan(delta.a) or math.isnan(delta.b):
            side = comparison.a if math.isnan(delta.a) else comparison.b
            raise CompareRefused(f"--fail-on-regression {metric}: row {change.row!r} has no {metric} in {side}")
        if math.isnan(delta.low):
            raise CompareRefused(
                f"--fail-on-regression {metric}: cannot tell whether row {change.row!r} got worse: no paired "
                "interval (per-sample test predictions are needed on both sides, and the metric must be one "
                "the predictions determine)"
            )
        if delta.verdict == "worse":
            worse.append((change.row, delta))
    return worse

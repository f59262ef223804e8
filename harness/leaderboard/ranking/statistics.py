"""The leaderboard's statistics: bootstrap intervals, paired tests, the Pareto front.

- Every metric that can be recomputed from the stored predictions (accuracy, balanced
  accuracy, precision/recall/F1 per class and averaged, AUROC, ECE, Brier, and the anomaly
  family's image AUROC, AUPR and F1-max) gets a 95%
  percentile bootstrap interval over test samples (:mod:`harness.stats.bootstrap`;
  1000 class-stratified resamples, seed 0; the per-seed metric is averaged over seeds
  per resample). Metrics computed from maps (localisation) and costs have none.
- The ranking metric and the other headline and calibration metrics are tested row by
  row against the top row on the shared test set (:mod:`harness.stats.paired`): the
  delta of the displayed seed means with a joint-bootstrap interval, and the p-value of
  a paired permutation test (exact where it exists), Holm-adjusted per metric; rows not
  significantly worse are tied with the top row. The settings record the smallest
  p-value the Monte Carlo tests can reach, before and after Holm.
- Rows on the Pareto front of latency against the ranking metric are marked.
- Two chance rows (majority class and stratified-random) are ranked beside the models,
  and every row is tested against them (:mod:`harness.leaderboard.ranking.chance`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.leaderboard.board import Leaderboard
from harness.leaderboard.ranking.chance import add_chance_rows, chance_samples, chance_tests
from harness.leaderboard.ranking.samples import PredictionStore
from harness.metrics import lower_is_better
from harness.stats.bootstrap import LEVEL, Interval, bootstrap_intervals, metric_names
from harness.stats.paired import ALPHA, PairedResult, compare_many_with_top
from harness.stats.pareto import pareto_front
from harness.stats.permutation import DEFAULT_PERMUTATIONS
from harness.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED
from harness.stats.samples import SampleSet
from harness.store import Run

Samples = dict[tuple[str, str], SampleSet]
PARETO_COST = "test.latency_ms"


def interval_splits(rank_by: str) -> tuple[str, ...]:
    """Splits whose metrics get intervals: test, and the ranking metric's split."""
    split = rank_by.split(".", 1)[0]
    return ("test",) if split == "test" or "." not in rank_by else ("test", split)


def load_samples(leaderboard: Leaderboard, run: Run, store: PredictionStore) -> tuple[Samples, list[str]]:
    """Each row's predictions per split, and a note for every row that has none usable."""
    samples: Samples = {}
    notes: list[str] = []
    for row, detail in leaderboard.details.items():
        cells = [run.cells[c] for c in detail.cells]
        for split in interval_splits(leaderboard.rank_by):
            try:
                found = store.row_samples(row, cells, split)
            except HarnessError as exc:
                notes.append(f"no intervals for {split} metrics: {exc}")
                continue
            if found is None:
                notes.append(f"row {row!r} stored no {split} predictions: no intervals or paired tests for it")
            else:
                samples[(row, split)] = found
    return samples, notes


def row_intervals(
    leaderboard: Leaderboard, samples: Samples, n_resamples: int, seed: int, level: float
) -> dict[str, dict[str, Interval]]:
    """Row to metric to interval, for every recorded metric the predictions can give."""
    out: dict[str, dict[str, Interval]] = {}
    for (row, split), found in samples.items():
        names = [n for n in metric_names(found.classes) if f"{split}.{n}" in leaderboard.metrics]
        intervals = bootstrap_intervals(found, names, n_resamples=n_resamples, seed=seed, level=level)
        out.setdefault(row, {}).update({f"{split}.{k}": v for k, v in intervals.items()})
    return out


def mismatch_notes(leaderboard: Leaderboard, intervals: dict[str, dict[str, Interval]]) -> list[str]:
    """Metrics whose recorded mean differs from the one recomputed from the predictions.

    That happens when a metric plugin defines a name differently from the built-in
    metric, or when predictions were replaced after the metrics were recorded; the
    interval then describes the recomputed value, and the page says so.
    """
    lines = leaderboard.rows.set_index("row")
    off: dict[str, list[str]] = {}
    for row, by_metric in intervals.items():
        for metric, interval in by_metric.items():
            recorded = float(lines.at[row, f"{metric}_mean"])
            if not math.isnan(recorded) and not math.isclose(recorded, interval.point, rel_tol=1e-6, abs_tol=1e-9):
                off.setdefault(metric, []).append(row)
    return [
        f"{metric}: the recorded mean of {', '.join(repr(r) for r in rows)} differs from the value recomputed from the "
        "stored predictions; its interval is around the recomputed value"
        for metric, rows in sorted(off.items())
    ]


def tested_metrics(leaderboard: Leaderboard, samples: Samples) -> list[str]:
    """The ranking, headline and calibration metrics that can be paired-tested."""
    top = leaderboard.top
    out = []
    for metric in (*leaderboard.shown, *leaderboard.calibration):
        split, _, name = metric.partition(".")
        found = samples.get((top, split)) if top is not None else None
        if found is not None and name in metric_names(found.classes) and metric not in out:
            out.append(metric)
    return out


def _comparable(
    leaderboard: Leaderboard, samples: Samples, split: str
) -> tuple[list[tuple[str, SampleSet]], list[str]]:
    """Rows below the top with predictions on the top row's samples; notes on the others."""
    reference = samples[(leaderboard.top, split)]
    rows, notes = [], []
    for row in leaderboard.rows["row"].iloc[1:]:
        found = samples.get((row, split))
        if found is None:
            continue
        if found.fingerprint == reference.fingerprint and found.classes == reference.classes:
            rows.append((row, found))
        else:
            notes.append(f"row {row!r} is not compared with #1: it was evaluated on a different {split} set")
    return rows, notes


def paired_tests(
    leaderboard: Leaderboard,
    samples: Samples,
    n_resamples: int,
    seed: int,
    alpha: float,
    n_permutations: int = DEFAULT_PERMUTATIONS,
) -> tuple[dict[str, dict[str, PairedResult]], list[str]]:
    """Every row against the top row on each tested metric; notes on rows left out."""
    top = leaderboard.top
    by_split: dict[str, list[str]] = {}
    for metric in tested_metrics(leaderboard, samples):
        by_split.setdefault(metric.partition(".")[0], []).append(metric)
    out: dict[str, dict[str, PairedResult]] = {}
    notes: list[str] = []
    for split, metrics in by_split.items():
        others, left_out = _comparable(leaderboard, samples, split)
        notes.extend(left_out)
        found = compare_many_with_top(
            (top, samples[(top, split)]),
            others,
            [m.partition(".")[2] for m in metrics],
            lower_is_better=[lower_is_better(m) for m in metrics],
            alpha=alpha,
            n_resamples=n_resamples,
            n_permutations=n_permutations,
            seed=seed,
        )
        for metric in metrics:
            out[metric] = {r.row: r for r in found[metric.partition(".")[2]]}
    return {m: out[m] for m in tested_metrics(leaderboard, samples)}, notes


def pareto_axes(leaderboard: Leaderboard) -> tuple[str | None, str | None]:
    """``(cost, value)``: latency against the ranking metric (accuracy if that is a cost)."""
    if PARETO_COST not in leaderboard.metrics:
        return None, None
    value = leaderboard.rank_by
    if value in leaderboard.efficiency:
        value = "test.accuracy" if "test.accuracy" in leaderboard.metrics else None
    return (PARETO_COST, value) if value else (None, None)


def pareto_rows(rows: pd.DataFrame, cost: str | None, value: str | None) -> np.ndarray:
    """``[rows]`` booleans: on the front of ``cost`` (lower better) against ``value``."""
    if cost is None or value is None or rows.empty:
        return np.zeros(len(rows), dtype=bool)
    costs = rows[f"{cost}_mean"].to_numpy(dtype=np.float64)
    values = rows[f"{value}_mean"].to_numpy(dtype=np.float64)
    return pareto_front(costs, values, higher_is_better=not lower_is_better(value))


def _with_interval_columns(rows: pd.DataFrame, metrics: tuple[str, ...], intervals: dict[str, dict[str, Interval]]):
    rows = rows.copy()
    for m in metrics:
        if not any(m in by_metric for by_metric in intervals.values()):
            continue
        for end in ("low", "high"):
            values = [getattr(intervals.get(r, {}).get(m), end, math.nan) for r in rows["row"]]
            rows.insert(rows.columns.get_loc(f"{m}_std") + (1 if end == "low" else 2), f"{m}_{end}", values)
    return rows


def add_statistics(
    leaderboard: Leaderboard,
    run: Run,
    store: PredictionStore,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = LEVEL,
    alpha: float = ALPHA,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    chance: bool = True,
) -> Leaderboard:
    """The leaderboard with intervals, paired tests, fingerprints and the Pareto front.

    With ``chance``, the chance rows join the ranking first and every row is tested against them.
    """
    samples, notes = load_samples(leaderboard, run, store)
    if chance:
        found, chance_notes = chance_samples(leaderboard, run, samples, interval_splits(leaderboard.rank_by), seed)
        leaderboard, samples, notes = add_chance_rows(leaderboard, found), samples | found, notes + chance_notes
    intervals = row_intervals(leaderboard, samples, n_resamples, seed, level)
    paired, paired_notes = (
        paired_tests(leaderboard, samples, n_resamples, seed, alpha, n_permutations) if samples else ({}, [])
    )
    notes += mismatch_notes(leaderboard, intervals)
    vs_chance, chance_test_notes = (
        chance_tests(leaderboard, samples, n_resamples, seed, alpha, n_permutations) if chance else ({}, [])
    )
    fingerprints: dict[str, dict[str, str]] = {}
    for (row, split), found in samples.items():
        fingerprints.setdefault(row, {})[split] = found.fingerprint
    cost, value = pareto_axes(leaderboard)
    rows = _with_interval_columns(leaderboard.rows, leaderboard.metrics, intervals)
    if not rows.empty:
        rows["pareto"] = pareto_rows(rows, cost, value)
    family = max((len(results) for results in paired.values()), default=0)
    settings: dict[str, Any] = {
        "resamples": n_resamples,
        "permutations": n_permutations,
        "seed": seed,
        "level": level,
        "alpha": alpha,
        "p_min": 1.0 / (n_permutations + 1),  # Monte Carlo permutation tests; exact tests carry their own
        "p_min_holm": min(1.0, family / (n_permutations + 1)),
        "family": family,
    }
    return dataclasses.replace(
        leaderboard,
        rows=rows,
        intervals=intervals,
        paired=paired,
        fingerprints=fingerprints,
        pareto_cost=cost,
        pareto_value=value,
        notes=(*leaderboard.notes, *notes, *paired_notes, *chance_test_notes),
        bootstrap=settings,
        vs_chance=vs_chance,
    )

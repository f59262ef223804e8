"""Rows x slices: each row's test metric on every value of a metadata field.

The metadata come from the cells' ``meta_<split>.csv`` (:mod:`harness.sample_meta`).
The slice metric is the ranking metric (accuracy when the ranking metric cannot be
recomputed from predictions); each cell of the table is a seed mean with a bootstrap
interval, tested against the top row's value on the same slice (Holm over the rows,
per slice). Rows are ranked by their worst slice.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.metrics import lower_is_better
from harness.sample_meta import read_sample_meta
from harness.stats.bootstrap import bootstrap_intervals, metric_names
from harness.stats.paired import compare_many_with_top
from harness.stats.slices import defined_on, slice_values, subset

if TYPE_CHECKING:
    from harness.leaderboard.board import Leaderboard
    from harness.leaderboard.ranking.decisions import DecisionSettings
    from harness.stats.samples import SampleSet
    from harness.store import Run


def slice_metric(leaderboard: Leaderboard, classes: tuple[str, ...]) -> str:
    """The ranking metric's name when predictions determine it, else accuracy."""
    name = leaderboard.rank_by.partition(".")[2]
    return name if name in metric_names(classes) else "accuracy"


def _f(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _cells(leaderboard: Leaderboard, row: str, found: SampleSet, index: np.ndarray, metric: str,
           settings: DecisionSettings) -> dict[str, Any]:
    part = subset(found, index)
    if not defined_on(metric, list(found.classes), part.labels):
        return {"point": None, "low": None, "high": None, "n": len(index)}
    interval = bootstrap_intervals(part, [metric], n_resamples=settings.resamples, seed=settings.seed)[metric]
    return {"point": _f(interval.point), "low": _f(interval.low), "high": _f(interval.high), "n": len(index)}


def _paired(top: str, tests: dict[str, SampleSet], rows: list[str], index: np.ndarray, metric: str,
            settings: DecisionSettings) -> dict[str, dict[str, Any]]:
    reference = tests[top]
    part = subset(reference, index)
    if not defined_on(metric, list(reference.classes), part.labels):
        return {}
    others = [(r, subset(tests[r], index)) for r in rows if r != top and tests[r].fingerprint == reference.fingerprint]
    found = compare_many_with_top((top, part), others, [metric], lower_is_better=[lower_is_better(metric)],
                                  n_resamples=settings.resamples, n_permutations=settings.permutations,
                                  seed=settings.seed)[metric]
    return {r.row: {"delta": r.delta, "p": _f(r.p), "p_holm": _f(r.p_holm), "verdict": r.verdict, "method": r.method}
            for r in found}


def one_field(leaderboard: Leaderboard, tests: dict[str, SampleSet], meta: dict[str, dict[str, str]], name: str,
              settings: DecisionSettings) -> dict[str, Any]:
    """The rows x slices table of one metadata field."""
    rows = [r for r in leaderboard.rows["row"] if r in tests]
    first = tests[rows[0]]
    metric = slice_metric(leaderboard, first.classes)
    values = slice_values(first.sample_ids, meta, name)
    levels = sorted({v for v in values if v is not None})
    if not levels:
        return {"field": name, "metric": metric, "slices": [], "rows": [],
                "note": f"no stored sample has metadata {name!r}"}
    top = rows[0]
    table = {r: {} for r in rows}
    tests_by_slice = {}
    for level in levels:
        index = np.flatnonzero([v == level for v in values])
        for r in rows:
            if tests[r].sample_ids == first.sample_ids:
                table[r][level] = _cells(leaderboard, r, tests[r], index, metric, settings)
        tests_by_slice[level] = _paired(top, tests, [r for r in rows if level in table[r]], index, metric, settings)
    lower = lower_is_better(metric)
    out_rows = []
    for r in rows:
        scored = {k: v["point"] for k, v in table[r].items() if v["point"] is not None}
        worst = (max if lower else min)(scored, key=scored.get) if scored else None
        out_rows.append({"row": r, "cells": [table[r].get(level) for level in levels],
                         "tests": [tests_by_slice[level].get(r) for level in levels],
                         "worst": worst, "worst_value": scored.get(worst) if worst else None})
    ranked = sorted(out_rows, key=lambda e: (e["worst_value"] is None,
                                             (e["worst_value"] or 0.0) * (1 if lower else -1)))
    for i, entry in enumerate(ranked, start=1):
        entry["worst_rank"] = i
    counts = [int(sum(v == level for v in values)) for level in levels]
    return {"field": name, "metric": metric, "slices": levels, "counts": counts, "rows": out_rows,
            "top": top, "note": None}


def slice_tables(leaderboard: Leaderboard, run: Run, tests: dict[str, SampleSet], settings: DecisionSettings
                 ) -> list[dict[str, Any]]:
    """One table per ``slice_by`` field (metadata read from every cell of the run)."""
    if not tests:
        return []
    meta = read_sample_meta([c.path for c in run.cells.values()], "test")
    return [one_field(leaderboard, tests, meta, name, settings) for name in settings.slice_by]

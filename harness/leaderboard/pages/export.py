"""The machine-readable leaderboard: ``results.json`` and ``results.csv``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from harness.leaderboard.board import Leaderboard, RowDetail
from harness.leaderboard.ranking.tuning import tuning_entry

FORMAT = 3  # results.json layout: 2 added intervals, paired tests and the run folder; 3 tuning and ensembles


def _finite(value: Any) -> float | None:
    """A float for JSON, None for NaN (JSON has no NaN)."""
    value = float(value)
    return None if math.isnan(value) else value


def _metric_entry(line: Any, m: str) -> dict[str, float | None]:
    entry = {"mean": _finite(line[f"{m}_mean"]), "std": _finite(line[f"{m}_std"])}
    if f"{m}_low" in line.index:
        entry |= {"low": _finite(line[f"{m}_low"]), "high": _finite(line[f"{m}_high"])}
    return entry


def _paired_entries(leaderboard: Leaderboard, row: str) -> dict[str, dict[str, Any]]:
    out = {}
    for metric, results in leaderboard.paired.items():
        if row in results:
            found = dataclasses.asdict(results[row])
            out[metric] = {
                k: _finite(v) if isinstance(v, float) else v for k, v in found.items() if k not in ("row", "metric")
            }
    return out


def _ensemble_entry(ensemble: dict[str, Any] | None) -> dict[str, Any] | None:
    """An ensemble row's summary; each folder's own analysis stays in its ``analysis.json``."""
    if ensemble is None:
        return None
    folders = []
    for f in ensemble["folders"]:
        analysis = f["analysis"] or {}
        folders.append(
            {k: v for k, v in f.items() if k != "analysis"}
            | {
                "oracle_accuracy": analysis.get("oracle_accuracy"),
                "accuracy": (analysis.get("ensemble") or {}).get("accuracy"),
                "mean_disagreement": analysis.get("mean_disagreement"),
            }
        )
    return {k: v for k, v in ensemble.items() if k != "folders"} | {"folders": folders}


def _kind_entries(detail: RowDetail) -> dict[str, Any]:
    return {
        "kind": detail.kind,
        "tuning": tuning_entry(detail.tuning),
        "ensemble": _ensemble_entry(detail.ensemble),
        "tta": detail.tta,
    }


def results_dict(leaderboard: Leaderboard) -> dict[str, Any]:
    """Everything a reader or ``harness compare`` needs, rows in rank order.

    Top level: ``format``, ``experiment``, ``rank_by``, ``run_dir`` (the absolute run
    store folder, so per-sample predictions can be found again), ``bootstrap`` (the
    settings of the intervals and tests), ``top`` (the first row), ``pareto`` (its axes),
    ``rows``, ``failed``, ``notes`` and ``decisions`` (the winner chosen on validation
    and the slice, cost, effect and label-issue tables that were asked for:
    :mod:`harness.leaderboard.ranking.decisions`).

    Each row holds ``rank``, ``row``, ``n_seeds``, ``metrics`` (name to ``{"mean",
    "std"}`` plus ``"low"``/``"high"`` for metrics with bootstrap intervals; null where
    undefined), ``cells`` (its finished cell ids), ``fingerprints`` (split to the hash of
    its sorted ``(sample_id, label)`` pairs), ``paired`` (metric to its test against the
    top row), ``pareto``, ``wrong`` (split to the CSV of its wrong predictions),
    ``kind`` (``"model"``, ``"ensemble"`` or ``"tta"``), ``tuning`` (a tuned row's
    studies, :func:`harness.leaderboard.ranking.tuning.tuning_entry`), ``ensemble`` (members,
    weights, cost and the averaged analysis, :func:`harness.leaderboard.ranking.derived.ensemble_info`
    with per-folder headline numbers in place of each ``analysis.json``) and ``tta``
    (:func:`harness.leaderboard.ranking.derived.tta_info`); each null when it does not apply.
    """
    from harness.leaderboard.ranking.anomaly import category_table

    rows = []
    for _, line in leaderboard.rows.iterrows():
        row = str(line["row"])
        rows.append(
            {
                "rank": int(line["rank"]),
                "row": row,
                "n_seeds": int(line["n_seeds"]),
                "metrics": {m: _metric_entry(line, m) for m in leaderboard.metrics},
                "cells": list(leaderboard.details[row].cells),
                "fingerprints": dict(leaderboard.fingerprints.get(row, {})),
                "paired": _paired_entries(leaderboard, row),
                "pareto": bool(line.get("pareto", False)),
                "wrong": dict(leaderboard.wrong_files.get(row, {})),
                **_kind_entries(leaderboard.details[row]),
            }
        )
    return {
        "format": FORMAT,
        "experiment": leaderboard.experiment,
        "rank_by": leaderboard.rank_by,
        "run_dir": str(leaderboard.run_dir) if leaderboard.run_dir else None,
        "bootstrap": dict(leaderboard.bootstrap),
        "top": leaderboard.top,
        "pareto": {"cost": leaderboard.pareto_cost, "value": leaderboard.pareto_value},
        "rows": rows,
        "failed": [dict(f) for f in leaderboard.failed],
        "notes": list(leaderboard.notes),
        "decisions": {k: v for k, v in leaderboard.decisions.items() if k != "figures"},
        "categories": category_table(leaderboard.rows, leaderboard.rank_by),
    }


def results_csv(leaderboard: Leaderboard) -> str:
    """One line per row: ``rank,row,n_seeds``, then per metric ``_mean,_std`` (and
    ``_low,_high`` where it has bootstrap intervals), then ``pareto`` once computed.

    Floats are written with full precision; an undefined value is an empty field.
    """
    columns = ["rank", "row", "n_seeds"]
    for m in leaderboard.metrics:
        columns += [f"{m}_{s}" for s in ("mean", "std", "low", "high") if f"{m}_{s}" in leaderboard.rows.columns]
    if "pareto" in leaderboard.rows.columns:
        columns.append("pareto")
    return leaderboard.rows[columns].to_csv(index=False, lineterminator="\n")

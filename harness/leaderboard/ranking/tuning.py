"""Tuned rows: what each seed's Optuna study did, from the ``tuning.json`` beside a cell.

A tuned cell (``[tune]`` in the experiment) keeps its best trial's results and writes
``tuning.json``: the study's counts, best trial and parameters, parameter importances
and every trial (:mod:`harness.tune.run`). Each seed runs its own study, so a row has
one summary per tuned seed; trial counts are also summed over them.
"""

from __future__ import annotations

import json
import math
from typing import Any

from harness.store import CellRecord, read_json

TUNING_FILE = "tuning.json"
STATES = ("complete", "pruned", "fail")


def _number(value: Any) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _count(counts: dict[str, Any], metrics: dict[str, Any], state: str) -> int:
    """A trial count from ``tuning.json``, else from the cell's ``tune.*`` metrics."""
    metric = {"complete": "tune.complete", "pruned": "tune.pruned", "fail": "tune.failed"}[state]
    value = counts.get(state, metrics.get(metric, 0))
    return int(value) if _number(value) is not None else 0


def _text(value: Any) -> str | None:
    """A setting for display: strings as they are, tables (``{name = "median", ...}``) as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _trial(entry: dict[str, Any]) -> dict[str, Any]:
    """One trial for the history plot: number, state and the value to draw.

    A pruned trial is drawn at its last reported intermediate value when it has no
    final value; a failed trial has none.
    """
    value = _number(entry.get("value"))
    steps = {k: _number(v) for k, v in (entry.get("intermediate") or {}).items()}
    steps = {k: v for k, v in steps.items() if v is not None}
    if value is None and entry.get("state") == "pruned" and steps:
        value = steps[max(steps, key=lambda s: float(s))]
    return {"number": int(entry.get("number", 0)), "state": str(entry.get("state", "")), "value": value}


def _importances(found: Any) -> dict[str, float]:
    """Parameter to importance, most important first (the file stores them by name)."""
    if not isinstance(found, dict):
        return {}
    values = {str(k): v for k, v in found.items() if _number(v) is not None}
    return {k: float(values[k]) for k in sorted(values, key=lambda k: (-float(values[k]), k))}


def cell_tuning(cell: CellRecord) -> dict[str, Any] | None:
    """One seed's study, or None when the cell was not tuned (no readable ``tuning.json``).

    Returns:
        ``cell``, ``seed``, ``study``, ``metric``, ``direction``, ``n_trials``,
        ``sampler``, ``pruner``, ``complete``, ``pruned``, ``failed``, ``best_trial``,
        ``best_value``, ``best_params``, ``importances`` (most important first) and
        ``trials`` (``number``, ``state``, ``value``; in trial order).
    """
    path = cell.path / TUNING_FILE
    if not path.exists():
        return None
    try:
        data = read_json(path)
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    counts = data.get("counts") if isinstance(data.get("counts"), dict) else {}
    trials = [_trial(t) for t in data.get("trials") or [] if isinstance(t, dict)]
    best = data.get("best_trial")
    return {
        "cell": cell.id,
        "seed": cell.config.get("seed"),
        "study": str(data.get("study", "")),
        "metric": str(data.get("metric", "")),
        "direction": str(data.get("direction", "")),
        "n_trials": data.get("n_trials"),
        "sampler": _text(data.get("sampler")),
        "pruner": _text(data.get("pruner")),
        **{("failed" if s == "fail" else s): _count(counts, cell.metrics, s) for s in STATES},
        "best_trial": int(best) if _number(best) is not None else None,
        "best_value": _number(data.get("best_value")),
        "best_params": dict(data.get("best_params") or {}),
        "importances": _importances(data.get("importances")),
        "trials": sorted(trials, key=lambda t: t["number"]),
    }


def row_tuning(cells: list[CellRecord]) -> dict[str, Any] | None:
    """The studies of a row's tuned seeds, or None when no seed was tuned.

    Returns:
        ``metric`` and ``direction`` (of the first tuned seed), ``complete``,
        ``pruned`` and ``failed`` summed over the seeds, ``params`` (every tuned
        parameter, in first-seen order) and ``seeds`` (:func:`cell_tuning` of each
        tuned seed, first seed first).
    """
    seeds = [found for found in map(cell_tuning, cells) if found is not None]
    if not seeds:
        return None
    params: list[str] = []
    for seed in seeds:
        params += [p for p in seed["best_params"] if p not in params]
    return {
        "metric": seeds[0]["metric"],
        "direction": seeds[0]["direction"],
        **{key: sum(s[key] for s in seeds) for key in ("complete", "pruned", "failed")},
        "params": params,
        "seeds": seeds,
    }


def tuning_entry(tuning: dict[str, Any] | None) -> dict[str, Any] | None:
    """The row's ``tuning`` in ``results.json``: the summary without the trial list.

    ``best_params`` and ``importances`` are lists with one entry per tuned seed, in
    the order of ``seeds``.
    """
    if tuning is None:
        return None
    seeds = [{k: v for k, v in s.items() if k not in ("trials", "best_params", "importances")} for s in tuning["seeds"]]
    return {
        "metric": tuning["metric"],
        "direction": tuning["direction"],
        "complete": tuning["complete"],
        "pruned": tuning["pruned"],
        "failed": tuning["failed"],
        "best_params": [dict(s["best_params"]) for s in tuning["seeds"]],
        "importances": [dict(s["importances"]) for s in tuning["seeds"]],
        "seeds": seeds,
    }

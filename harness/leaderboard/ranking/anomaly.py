"""Operating points of defect rows and the models x categories table of an anomaly benchmark.

For every row of a two-class data set with a normal class, at the row's decision rule:
a one-class row's validation-chosen threshold on its anomaly score (``threshold.json``),
a classifier's ``p(defect) >= 0.5``. Per seed the test confusion counts give recall and
false-alarm rate; over the row's seeds the counts are pooled, with Wilson 95% intervals.
The score distributions of validation and test feed the row page's histograms.
"""

from __future__ import annotations

import math
import re
from statistics import NormalDist
from typing import Any

import numpy as np

from harness.anomaly.operating import operating_point
from harness.errors import HarnessError
from harness.store import Run, read_json

NORMAL_NAMES = ("normal", "good", "ok")
CATEGORY = re.compile(r"\s*\bdataset\.category=(\S+)")


def defect_index(classes: tuple[str, ...]) -> int | None:
    """The defect class of a two-class data set, or None for other data sets."""
    if len(classes) != 2:
        return None
    named = [i for i, c in enumerate(classes) if c in NORMAL_NAMES]
    return 1 - (named[0] if len(named) == 1 else 0)


def wilson(successes: int, trials: int) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion (NaN without trials)."""
    if trials == 0:
        return math.nan, math.nan
    z = NormalDist().inv_cdf(0.975)
    p, z2 = successes / trials, z * z / trials
    centre = (p + z2 / 2) / (1 + z2)
    half = z / (1 + z2) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def _cell_points(run: Run, cell_id: str, defect: int) -> dict[str, Any] | None:
    cell = run.cells[cell_id]
    report_path = cell.path / "threshold.json"
    out: dict[str, Any] = {}
    try:
        report = read_json(report_path) if report_path.exists() else None
        for split in ("val", "test"):
            pred = run.prediction_set(cell_id, split)
            labels = pred.labels == defect
            if report is not None and pred.scores is not None:
                scores, threshold, rule = pred.scores, float(report["calibration"]["threshold"]), \
                    report["calibration"].get("rule", "f1")
            else:
                scores, threshold, rule = pred.proba[:, defect], 0.5, "argmax"
            out[split] = {"labels": labels, "scores": scores, **operating_point(labels, scores, threshold)}
        out["threshold"], out["rule"], out["score"] = threshold, rule, "anomaly score" if report else "p(defect)"
    except (HarnessError, KeyError, ValueError, OSError):
        return None
    return out


def operating_summary(run: Run | None, cells: tuple[str, ...], classes: tuple[str, ...]) -> dict[str, Any] | None:
    """The row's threshold(s), pooled test counts with rates and intervals, and per-seed points."""
    defect = defect_index(tuple(classes))
    if run is None or defect is None or not cells:
        return None
    points = [p for p in (_cell_points(run, c, defect) for c in cells if c in run.cells) if p is not None]
    if not points:
        return None
    pooled = {k: sum(p["test"][k] for p in points) for k in ("tp", "fn", "fp", "tn")}
    recall = pooled["tp"] / (pooled["tp"] + pooled["fn"]) if pooled["tp"] + pooled["fn"] else math.nan
    false_alarm = pooled["fp"] / (pooled["fp"] + pooled["tn"]) if pooled["fp"] + pooled["tn"] else math.nan
    rule = points[0]["rule"]
    return {
        "score": points[0]["score"],
        "rule": rule if isinstance(rule, str) else ", ".join(f"{k} = {v}" for k, v in rule.items()),
        "thresholds": [p["threshold"] for p in points],
        "counts": pooled,
        "recall": recall, "recall_ci": wilson(pooled["tp"], pooled["tp"] + pooled["fn"]),
        "false_alarm": false_alarm, "false_alarm_ci": wilson(pooled["fp"], pooled["fp"] + pooled["tn"]),
        "per_seed": [{k: p["test"][k] for k in ("tp", "fn", "fp", "tn", "recall", "false_alarm_rate")} for p in points],
        "histogram": {split: {"normal": points[0][split]["scores"][~points[0][split]["labels"]],
                              "defect": points[0][split]["scores"][points[0][split]["labels"]]}
                      for split in ("val", "test")},
    }


def report_file(summary: dict[str, Any]) -> dict[str, Any]:
    """The row's threshold report as JSON (no score arrays)."""
    return {k: v for k, v in summary.items() if k != "histogram"}


def category_table(rows: Any, metric: str) -> dict[str, Any] | None:
    """Models x categories of ``metric`` (seed means), with each model's mean over categories.

    Args:
        rows: the leaderboard's ranking frame (``row`` labels such as ``"anomalib
            model=Padim dataset.category=bottle"``, ``<metric>_mean`` columns).
        metric: the metric shown.

    Returns:
        ``{"metric", "categories", "models": [{"model", "values", "mean"}]}`` sorted by
        the mean, best first (a model missing a category has no mean); None unless some
        row varies ``dataset.category``.
    """
    column = f"{metric}_mean"
    table: dict[str, dict[str, float]] = {}
    for record in rows.to_dict("records"):
        found = CATEGORY.search(str(record["row"]))
        if not found:
            continue
        value = record.get(column)
        model = CATEGORY.sub("", str(record["row"])).strip()
        table.setdefault(model, {})[found.group(1)] = float(value) if value is not None else math.nan
    if not table:
        return None
    from harness.metrics import lower_is_better

    categories = sorted({c for values in table.values() for c in values})
    models = []
    for model, values in table.items():
        finite = [values[c] for c in categories if c in values and math.isfinite(values[c])]
        models.append({"model": model, "values": [values.get(c, math.nan) for c in categories],
                       "mean": float(np.mean(finite)) if len(finite) == len(categories) else math.nan})
    sign = 1 if lower_is_better(metric) else -1
    models.sort(key=lambda m: (math.isnan(m["mean"]), sign * m["mean"] if not math.isnan(m["mean"]) else 0))
    return {"metric": metric, "categories": categories, "models": models}

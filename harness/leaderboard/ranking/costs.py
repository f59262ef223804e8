"""Cost of each two-class row at its cost-optimal threshold, chosen on validation.

Per seed, the threshold on the stored defect probability ``p(defect)`` that minimises
``missed_defect * FN + false_alarm * FP`` on the validation predictions
(:func:`harness.stats.costs.cost_threshold`) is applied to that seed's test
predictions; the row's test cost per 1,000 parts is the mean over its seeds, with a
class-stratified bootstrap interval over test samples (all seeds on the same
resamples). The argmax rule's cost is shown beside it. Rows keep the leaderboard's order; with
``rank_by_cost`` they are ranked by validation cost (the choice a team can make before
seeing the test set), and the test cost confirms it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.stats.bootstrap import percentile_interval
from harness.stats.costs import cost_per_1000, cost_threshold, defect_index
from harness.stats.resample import Resampler

if TYPE_CHECKING:
    from harness.leaderboard.board import Leaderboard
    from harness.leaderboard.ranking.decisions import DecisionSettings
    from harness.stats.samples import SampleSet


def _f(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def row_cost(val: SampleSet, test: SampleSet, missed: float, false_alarm: float, settings: DecisionSettings
             ) -> dict[str, Any] | None:
    """One row's thresholds and costs; None when it is not a two-class row or lacks validation seeds."""
    k = defect_index(test.classes)
    if k is None or val.n_seeds != test.n_seeds or val.classes != test.classes:
        return None
    val_defect, test_defect = val.labels == k, test.labels == k
    resampler = Resampler(test.labels, settings.resamples, settings.seed)
    ones = np.ones((1, len(test.labels)))
    thresholds, val_costs, points, argmax_costs, spread = [], [], [], [], []
    for pv, pt in zip(val.proba, test.proba):
        t, total = cost_threshold(pv[:, k], val_defect, missed, false_alarm)
        thresholds.append(t)
        val_costs.append(1000.0 * total / max(len(val.labels), 1))
        points.append(cost_per_1000(ones, pt[:, k], test_defect, t, missed, false_alarm)[0])
        argmax = (pt.argmax(axis=1) == k).astype(np.float64)  # the argmax rule as a 0/1 score at threshold 1
        argmax_costs.append(cost_per_1000(ones, argmax, test_defect, 1.0, missed, false_alarm)[0])
        spread.append(np.concatenate([cost_per_1000(w, pt[:, k], test_defect, t, missed, false_alarm)
                                      for w in resampler.chunks()]))
    low, high = percentile_interval(np.mean(spread, axis=0))
    return {
        "thresholds": [None if math.isinf(t) else float(t) for t in thresholds],
        "val_cost": float(np.mean(val_costs)),
        "test_cost": float(np.mean(points)),
        "low": _f(low),
        "high": _f(high),
        "argmax_cost": float(np.mean(argmax_costs)),
    }


def cost_table(leaderboard: Leaderboard, vals: dict[str, SampleSet], tests: dict[str, SampleSet],
               settings: DecisionSettings) -> dict[str, Any]:
    """Every two-class row's costs, in leaderboard order or (``rank_by_cost``) by validation cost."""
    missed = float(settings.costs.get("missed_defect", 1.0))
    false_alarm = float(settings.costs.get("false_alarm", 1.0))
    rows, skipped = [], []
    for row in leaderboard.rows["row"]:
        if row not in tests or row not in vals:
            skipped.append(row)
            continue
        found = row_cost(vals[row], tests[row], missed, false_alarm, settings)
        if found is None:
            skipped.append(row)
        else:
            rows.append({"row": row, **found})
    order = "val_cost" if settings.rank_by_cost else "rank"
    if settings.rank_by_cost:
        rows.sort(key=lambda e: (e["val_cost"], e["test_cost"]))  # stable: leaderboard order breaks ties
    for i, entry in enumerate(rows, start=1):
        entry["rank"] = i
    return {"missed_defect": missed, "false_alarm": false_alarm, "rows": rows, "ranked_by": order,
            "skipped": skipped}

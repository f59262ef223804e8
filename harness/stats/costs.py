"""Cost-optimal decision thresholds on the defect probability of two-class rows.

A part is flagged as defective when its defect score ``p(defect)`` is at least the
threshold ``t``. With a cost per missed defect and per false alarm, the expected cost
of ``t`` on a split is ``missed * FN(t) + false_alarm * FP(t)``. The candidates are
every distinct score (flag it and everything above) and ``+inf`` (flag nothing), which
covers every distinct decision; among equal costs the highest threshold wins (the
fewest alarms). The threshold is chosen on validation and applied unchanged to test,
where the cost is reported per 1,000 parts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DEFECT_NAMES = ("defect", "defective", "anomaly", "anomalous", "abnormal", "bad", "ng", "ko", "fail")


def defect_index(classes: Sequence[str]) -> int | None:
    """The index of the defect class of a two-class task, or None for other tasks.

    A class named like ``defect`` (see :data:`DEFECT_NAMES`) wins; otherwise the second
    class, as scikit-learn's positive label.
    """
    if len(classes) != 2:
        return None
    for i, name in enumerate(classes):
        if name.lower() in DEFECT_NAMES:
            return i
    return 1


def cost_threshold(scores: np.ndarray, is_defect: np.ndarray, missed: float, false_alarm: float) -> tuple[float, float]:
    """The threshold with the lowest total cost on these scores, and that cost.

    Args:
        scores: ``[N]`` defect scores.
        is_defect: ``[N]`` booleans, the true labels.
        missed: cost of one missed defect.
        false_alarm: cost of one normal part flagged.

    Returns:
        ``(threshold, total cost)``; ``threshold`` is ``inf`` when flagging nothing is
        cheapest.
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_defect = np.asarray(is_defect, dtype=bool)
    candidates = np.r_[np.unique(scores), math.inf]  # ascending
    order = np.sort(scores[is_defect])
    normal = np.sort(scores[~is_defect])
    fn = np.searchsorted(order, candidates, side="left")  # defects strictly below t are missed
    fp = len(normal) - np.searchsorted(normal, candidates, side="left")  # normals at or above t are flagged
    cost = missed * fn + false_alarm * fp
    best = np.flatnonzero(cost == cost.min())[-1]  # the highest threshold among the cheapest
    return float(candidates[best]), float(cost[best])


def cost_per_1000(
    weights: np.ndarray, scores: np.ndarray, is_defect: np.ndarray, threshold: float, missed: float, false_alarm: float
) -> np.ndarray:
    """Cost per 1,000 parts of a fixed threshold under each weighting (``[R, N]`` -> ``[R]``)."""
    flagged = np.asarray(scores) >= threshold
    is_defect = np.asarray(is_defect, dtype=bool)
    per_part = missed * (is_defect & ~flagged) + false_alarm * (~is_defect & flagged)  # [N]
    total = weights.sum(axis=1)
    out = np.full(len(weights), np.nan)
    np.divide(1000.0 * (weights @ per_part), total, out=out, where=total > 0)
    return out

"""The Pareto front of cost against quality (e.g. latency against accuracy)."""

from __future__ import annotations

import numpy as np


def pareto_front(costs: np.ndarray, values: np.ndarray, *, higher_is_better: bool = True) -> np.ndarray:
    """Which points no other point dominates.

    A point is dominated when another costs no more and is no worse, and is strictly
    better in one of the two. Points with a missing (NaN) cost or value are never on the
    front; two identical points are both on it.

    Args:
        costs: ``[n]`` costs, lower is better.
        values: ``[n]`` quality values.
        higher_is_better: the direction of ``values``.

    Returns:
        ``[n]`` booleans.
    """
    costs = np.asarray(costs, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if not higher_is_better:
        values = -values
    valid = ~(np.isnan(costs) | np.isnan(values))
    c, v = costs[:, None], values[:, None]  # [n, 1] against [1, n]: does j dominate i?
    no_worse = (costs[None, :] <= c) & (values[None, :] >= v)
    strictly = (costs[None, :] < c) | (values[None, :] > v)
    dominated = (no_worse & strictly & valid[None, :]).any(axis=1)
    return valid & ~dominated

"""Merging per-view probabilities ``[V, N, K]`` into one ``[N, K]``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness import TTAMerge

EPS = 1e-15  # floor before a log, so one view's zero cannot veto a class outright


def _renormalise(scores: np.ndarray) -> np.ndarray:
    return scores / scores.sum(axis=-1, keepdims=True)


def mean() -> TTAMerge:
    """Arithmetic mean of the views' probabilities."""
    return TTAMerge("mean", lambda p: p.mean(axis=0))


def gmean() -> TTAMerge:
    """Geometric mean of the probabilities, renormalised."""
    return TTAMerge("gmean", lambda p: _renormalise(np.exp(np.log(np.clip(p, EPS, 1.0)).mean(axis=0))))


def max_() -> TTAMerge:
    """Per-class maximum over the views, renormalised."""
    return TTAMerge("max", lambda p: _renormalise(p.max(axis=0)))


def tsharpen(t: float = 0.5) -> TTAMerge:
    """Mean of ``p ** t`` over the views, renormalised (``t < 1`` softens confident views)."""
    return TTAMerge("tsharpen", lambda p: _renormalise((p ** t).mean(axis=0)))


MERGES: dict[str, Callable[..., TTAMerge]] = {"mean": mean, "gmean": gmean, "max": max_, "tsharpen": tsharpen}

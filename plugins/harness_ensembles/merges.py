"""Merging per-view probabilities ``[V, N, K]`` into one ``[N, K]``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

EPS = 1e-15  # floor before a log, so one view's zero cannot veto a class outright


@dataclass(frozen=True)
class Merge:
    """A registered merge.

    Attributes:
        name: the registry name.
        apply: ``[V, N, K]`` probabilities to ``[N, K]`` rows summing to one.
        kind: always ``"merge"`` (the TTA registry also holds views).
    """

    name: str
    apply: Callable[[np.ndarray], np.ndarray]
    kind: str = "merge"

    def __call__(self, proba: np.ndarray) -> np.ndarray:
        return self.apply(np.asarray(proba, dtype=np.float64))


def _renormalise(scores: np.ndarray) -> np.ndarray:
    return scores / scores.sum(axis=-1, keepdims=True)


def mean() -> Merge:
    """Arithmetic mean of the views' probabilities."""
    return Merge("mean", lambda p: p.mean(axis=0))


def gmean() -> Merge:
    """Geometric mean of the probabilities, renormalised."""
    return Merge("gmean", lambda p: _renormalise(np.exp(np.log(np.clip(p, EPS, 1.0)).mean(axis=0))))


def max_() -> Merge:
    """Per-class maximum over the views, renormalised."""
    return Merge("max", lambda p: _renormalise(p.max(axis=0)))


def tsharpen(t: float = 0.5) -> Merge:
    """Mean of ``p ** t`` over the views, renormalised (``t < 1`` softens confident views)."""
    return Merge("tsharpen", lambda p: _renormalise((p ** t).mean(axis=0)))


MERGES: dict[str, Callable[..., Merge]] = {"mean": mean, "gmean": gmean, "max": max_, "tsharpen": tsharpen}

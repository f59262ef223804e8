"""Shared array checks and scores for ensemble methods working on ``[M, N, K]`` stacks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness import HarnessError

EPS = 1e-15  # probabilities are clipped here before a log, as scikit-learn's log_loss does


def check_stack(proba: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """``proba`` as float64 ``[M, N, K]``, raising a clear error on the wrong shape.

    Args:
        proba: member probabilities, members x samples x classes.
        labels: optional ``[N]`` class indices that must match ``proba``.
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 3 or min(proba.shape) == 0:
        raise HarnessError(f"ensemble input must be [members, samples, classes], got shape {proba.shape}")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (proba.shape[1],):
            raise HarnessError(f"labels have shape {labels.shape}, expected ({proba.shape[1]},)")
        if labels.min() < 0 or labels.max() >= proba.shape[2]:
            raise HarnessError(f"labels must lie in [0, {proba.shape[2]}), got {labels.min()}..{labels.max()}")
    return proba


def member_weights(weights: list[float] | None, n_members: int) -> np.ndarray:
    """Normalised ``[M]`` weights (uniform when ``weights`` is None)."""
    if weights is None:
        return np.full(n_members, 1.0 / n_members)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n_members,):
        raise HarnessError(f"weights has {w.size} entries but the ensemble has {n_members} members")
    if (w < 0).any() or w.sum() <= 0:
        raise HarnessError(f"weights must be non-negative with a positive sum, got {list(weights)}")
    return w / w.sum()


def weighted_mean(proba: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``[N, K]`` weighted average of ``[M, N, K]`` by ``[M]`` weights summing to one."""
    return np.tensordot(weights, proba, axes=1)


def log_loss(proba: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log probability of the true class of ``[N, K]`` probabilities."""
    picked = proba[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, EPS, 1.0))))


def accuracy(proba: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose most probable class (lowest index on ties) is the label."""
    return float(np.mean(proba.argmax(axis=1) == labels))


SCORES: dict[str, tuple[Callable[[np.ndarray, np.ndarray], float], bool]] = {
    "log_loss": (log_loss, False),
    "accuracy": (accuracy, True),
}
"""Metric name to ``(fn(proba [N, K], labels) -> float, higher_is_better)``."""

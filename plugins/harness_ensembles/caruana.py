"""Caruana et al. (2004) greedy ensemble selection with replacement."""

from __future__ import annotations

import numpy as np

from harness_ensembles.arrays import EPS

TIE_TOLERANCE = 1e-12  # scores closer than this count as equal (float noise, not signal)


def _candidate_scores(total: np.ndarray, proba: np.ndarray, size: int, labels: np.ndarray, metric: str) -> np.ndarray:
    """Score of the running ensemble plus each member: ``[M]``, higher is better."""
    if metric == "log_loss":
        rows = np.arange(len(labels))
        picked = (total[rows, labels][None, :] + proba[:, rows, labels]) / size  # [M, N]
        return np.mean(np.log(np.clip(picked, EPS, 1.0)), axis=1)
    averaged = (total[None] + proba) / size  # [M, N, K]
    return np.mean(averaged.argmax(axis=2) == labels[None, :], axis=1)


def caruana_select(proba: np.ndarray, labels: np.ndarray, ensemble_size: int = 20,
                   metric: str = "log_loss") -> np.ndarray:
    """How many times each member is picked by greedy forward selection.

    Each of ``ensemble_size`` rounds adds the member (repeats allowed) whose addition
    gives the best score of the averaged ensemble. Among equally good candidates one
    that is already in the ensemble wins (it keeps the ensemble small), then the
    lowest member index.

    Args:
        proba: ``[M, N, K]`` validation probabilities.
        labels: ``[N]`` validation labels.
        ensemble_size: number of rounds.
        metric: ``"log_loss"`` or ``"accuracy"``.

    Returns:
        ``[M]`` int counts summing to ``ensemble_size``.
    """
    counts = np.zeros(proba.shape[0], dtype=np.int64)
    total = np.zeros(proba.shape[1:])  # [N, K] sum of the chosen members
    for step in range(1, ensemble_size + 1):
        scores = _candidate_scores(total, proba, step, labels, metric)
        tied = np.flatnonzero(scores >= scores.max() - TIE_TOLERANCE)
        chosen_before = tied[counts[tied] > 0]
        pick = int(chosen_before[0] if chosen_before.size else tied[0])
        counts[pick] += 1
        total += proba[pick]
    return counts

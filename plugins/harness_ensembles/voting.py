"""Hard and soft voting over stored member probabilities.

Both follow scikit-learn's ``VotingClassifier``: soft voting averages probabilities
with optional weights; hard voting takes the weighted majority of each member's
argmax, ties going to the lowest class index (``argmax`` of a weighted ``bincount``).
"""

from __future__ import annotations

import numpy as np

from harness_ensembles.arrays import check_stack, member_weights, weighted_mean
from harness_ensembles.averaging import WeightedMean


class SoftVoting(WeightedMean):
    """Weighted average of the members' probabilities.

    Args:
        weights: one non-negative weight per member, or None for uniform.

    Attributes:
        weights_: ``[M]`` normalised weights, set by :meth:`fit`.
        n_classes_: ``K``.
    """

    def __init__(self, weights: list[float] | None = None):
        self.weights = weights

    def fit(self, proba: np.ndarray, labels: np.ndarray) -> SoftVoting:
        """Check shapes and settle the weights; nothing is learned from ``labels``."""
        proba = check_stack(proba, labels)
        self.weights_ = member_weights(self.weights, proba.shape[0])
        self.n_classes_ = proba.shape[2]
        return self


class HardVoting(SoftVoting):
    """Weighted majority of the members' predicted classes.

    :meth:`predict_proba` returns each class's weighted share of the votes, so the
    stored "probabilities" rank classes exactly as the vote does and their argmax
    (lowest index on ties) is scikit-learn's hard-voting prediction.
    """

    def predict_proba(self, proba: np.ndarray) -> np.ndarray:
        """``[N, K]`` weighted vote shares (rows sum to one)."""
        proba = check_stack(proba)
        votes = proba.argmax(axis=2)  # [M, N] each member's class
        one_hot = np.eye(proba.shape[2])[votes]  # [M, N, K]
        return weighted_mean(one_hot, self.weights_)

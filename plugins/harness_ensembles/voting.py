"""Hard and soft voting over stored member probabilities.

Both follow scikit-learn's ``VotingClassifier``: soft voting averages probabilities
with optional weights; hard voting takes the weighted majority of each member's
argmax, ties going to the lowest class index (``argmax`` of a weighted ``bincount``).
"""

from __future__ import annotations

import numpy as np

from harness import Ensemble
from harness_ensembles.arrays import check_stack, member_weights, weighted_mean


class SoftVoting(Ensemble):
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

    def predict_proba(self, proba: np.ndarray) -> np.ndarray:
        """``[N, K]`` weighted mean of ``[M, N, K]``."""
        return weighted_mean(check_stack(proba), self.weights_)

    def predict(self, proba: np.ndarray) -> np.ndarray:
        """``[N]`` most probable class, lowest index on ties."""
        return self.predict_proba(proba).argmax(axis=1)

    def get_state(self) -> dict[str, np.ndarray]:
        """The fitted weights as arrays, stored beside the row so it predicts without refitting."""
        return {"weights_": np.asarray(self.weights_, dtype=np.float64), "n_classes_": np.asarray(self.n_classes_)}

    def set_state(self, state: dict[str, np.ndarray]) -> SoftVoting:
        """Restore what :meth:`get_state` returned."""
        self.weights_ = np.asarray(state["weights_"], dtype=np.float64)
        self.n_classes_ = int(state["n_classes_"])
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

"""Weighted averaging with weights chosen on validation (or given)."""

from __future__ import annotations

import numpy as np

from harness_ensembles.arrays import check_stack, member_weights
from harness_ensembles.averaging import WeightedMean
from harness_ensembles.caruana import caruana_select


class WeightedAverage(WeightedMean):
    """Weighted average of member probabilities, the weights learned on validation.

    Args:
        weights: explicit weights (nothing is searched), or None to learn them.
        search: ``"caruana"`` (greedy selection with replacement) or ``"optuna"``.
        ensemble_size: Caruana rounds; a member's weight is its share of them.
        metric: ``"log_loss"`` or ``"accuracy"``, scored on the fit data.
        n_trials: Optuna trials.
        seed: Optuna sampler seed.

    Attributes:
        weights_: ``[M]`` normalised weights.
        counts_: ``[M]`` Caruana pick counts (Caruana search only).
    """

    def __init__(self, weights: list[float] | None = None, search: str = "caruana", ensemble_size: int = 20,
                 metric: str = "log_loss", n_trials: int = 50, seed: int = 0):
        self.weights = weights
        self.search = search
        self.ensemble_size = ensemble_size
        self.metric = metric
        self.n_trials = n_trials
        self.seed = seed

    def fit(self, proba: np.ndarray, labels: np.ndarray) -> WeightedAverage:
        """Choose the weights on ``proba`` (validation or out-of-fold) and ``labels``."""
        proba = check_stack(proba, labels)
        labels = np.asarray(labels, dtype=np.int64)
        self.n_classes_ = proba.shape[2]
        if self.weights is not None:
            self.weights_ = member_weights(self.weights, proba.shape[0])
        elif self.search == "optuna":
            from harness_ensembles.search import optuna_weights

            self.weights_ = optuna_weights(proba, labels, metric=self.metric, n_trials=self.n_trials, seed=self.seed)
        else:
            self.counts_ = caruana_select(proba, labels, self.ensemble_size, self.metric)
            self.weights_ = self.counts_ / self.counts_.sum()
        return self

"""What the averaging methods share: predicting with learned member weights, and storing them."""

from __future__ import annotations

from typing import Self

import numpy as np

from harness import Ensemble
from harness_ensembles.arrays import check_stack, weighted_mean


class WeightedMean(Ensemble):
    """An ensemble predicting the ``weights_``-weighted mean of its members' probabilities.

    A subclass's :meth:`fit` sets ``weights_`` (``[M]``, summing to one) and ``n_classes_``;
    prediction (``predict`` is the argmax, lowest index on ties) and the stored state are
    the same for all of them.
    """

    def predict_proba(self, proba: np.ndarray) -> np.ndarray:
        """``[N, K]`` weighted mean of ``[M, N, K]``."""
        return weighted_mean(check_stack(proba), self.weights_)

    def get_state(self) -> dict[str, np.ndarray]:
        """The fitted weights as arrays, stored beside the row so it predicts without refitting."""
        return {"weights_": np.asarray(self.weights_, dtype=np.float64), "n_classes_": np.asarray(self.n_classes_)}

    def set_state(self, state: dict[str, np.ndarray]) -> Self:
        """Restore what :meth:`get_state` returned."""
        self.weights_ = np.asarray(state["weights_"], dtype=np.float64)
        self.n_classes_ = int(state["n_classes_"])
        return self

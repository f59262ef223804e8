"""Per-sample predictions of one cell on one split: what every metric is computed from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class PredictionSet:
    """Stored predictions.

    Attributes:
        classes: class names, index = label.
        sample_ids: ``N`` ids.
        labels: ``[N]`` int64 true labels.
        proba: ``[N, K]`` float64 class probabilities (rows sum to 1).
        maps: name to ``[N, h, w]`` float32 maps (attention, CAM, localisation), for
            splits where the model produced them; else empty.
        masks: ``[N, h, w]`` uint8 ground-truth masks resized to the maps' size, or None.
        has_mask: ``[N]`` bool, or None.
        scores: ``[N]`` anomaly scores of a one-class model (higher = more anomalous),
            stored as the ``score`` column; None for classifiers, whose score is
            ``p(defect)`` (see :meth:`anomaly_scores`).
    """

    classes: tuple[str, ...]
    sample_ids: tuple[str, ...]
    labels: np.ndarray
    proba: np.ndarray
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    masks: np.ndarray | None = None
    has_mask: np.ndarray | None = None
    scores: np.ndarray | None = None

    def anomaly_scores(self, defect_index: int) -> np.ndarray:
        """``[N]`` scores for anomaly metrics: the stored scores, else ``p(defect_index)``."""
        return self.scores if self.scores is not None else self.proba[:, defect_index]

    @property
    def predicted(self) -> np.ndarray:
        """``[N]`` argmax class indices."""
        return self.proba.argmax(axis=1)

    def __len__(self) -> int:
        return len(self.labels)

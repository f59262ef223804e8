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
    """

    classes: tuple[str, ...]
    sample_ids: tuple[str, ...]
    labels: np.ndarray
    proba: np.ndarray
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    masks: np.ndarray | None = None
    has_mask: np.ndarray | None = None

    @property
    def predicted(self) -> np.ndarray:
        """``[N]`` argmax class indices."""
        return self.proba.argmax(axis=1)

    def __len__(self) -> int:
        return len(self.labels)

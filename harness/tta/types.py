"""What a TTA plugin registers: views and merges, two public types.

A factory registered by ``harness_register_tta`` returns one of them; the core tells
them apart by type, never by probing attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TTAView:
    """A test-time view of a batch.

    Attributes:
        name: the registry name.
        apply: float images ``[B, C, H, W]`` in ``[0, 255]`` (before normalisation) to
            ``[forwards * B, C, H, W]``, copy after copy.
        forwards: images the model sees per input image. A view with ``forwards > 1``
            (five crops) is still one view of the store: its probabilities are averaged,
            and its cost counts every forward pass.
    """

    name: str
    apply: Callable[[Any], Any]
    forwards: int = 1

    def __call__(self, images: Any) -> Any:
        return self.apply(images)


@dataclass(frozen=True)
class TTAMerge:
    """A rule that merges per-view probabilities.

    Attributes:
        name: the registry name.
        apply: ``[V, N, K]`` probabilities to ``[N, K]`` rows summing to one.
    """

    name: str
    apply: Callable[[np.ndarray], np.ndarray]

    def __call__(self, proba: np.ndarray) -> np.ndarray:
        return self.apply(np.asarray(proba, dtype=np.float64))

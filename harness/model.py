"""The model contract beyond ``forward(images) -> logits``.

A model may return a dict ``{"logits": [B, K], "maps": {name: [B, h, w]}, ...}``; maps are
stored for test samples and shown in the leaderboard. A model may also implement

* ``forward_batch(batch: Batch) -> outputs``: used instead of ``forward(images)`` in
  training and evaluation, so the model sees masks and training progress;
* ``compute_loss(outputs, batch: Batch) -> Tensor | (Tensor, dict[str, float])``: its own
  loss (multi-task models); the dict holds components logged per epoch. Without it the
  experiment's loss plugin is applied to ``outputs["logits"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass
class Batch:
    """One batch as the training loop hands it to a model.

    Attributes:
        images: ``[B, C, H, W]`` float, normalised.
        labels: ``[B]`` int64.
        masks: ``[B, H, W]`` float in {0, 1}, or None when the dataset has none.
        has_mask: ``[B]`` bool, or None.
        training: True during a training step.
        epoch: 0-based epoch.
        num_epochs: total epochs of the run.
        progress: fraction of training done at this step, in [0, 1].
    """

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor | None = None
    has_mask: torch.Tensor | None = None
    training: bool = False
    epoch: int = 0
    num_epochs: int = 1
    progress: float = 0.0


def split_outputs(outputs: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``(logits, maps)`` from a model's output, whichever form it takes."""
    if isinstance(outputs, dict):
        if "logits" not in outputs:
            raise TypeError(f"model returned a dict without 'logits' (keys: {sorted(outputs)})")
        return outputs["logits"], dict(outputs.get("maps") or {})
    return outputs, {}

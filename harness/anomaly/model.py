"""The contract of a one-class (anomaly) model: trained on normal images, it scores any image.

A model plugin's factory may return a :class:`OneClassModel`. The core then

1. trains it on the **normal** training images only (``train_on = "normal"`` is implied),
   calling :meth:`OneClassModel.fit_normal` instead of the optimizer loop;
2. scores validation and test images with :meth:`OneClassModel.score`: one anomaly score
   per image (higher = more anomalous) and, where the model has one, an anomaly map;
3. fits a threshold and a monotone map from scores to ``p(defect)`` on validation only
   (:mod:`harness.anomaly.operating`), so the row ranks beside classifiers.

Models fitted without gradients (memory banks, Gaussian fits) override ``fit_normal``;
models trained by gradient descent can instead implement :meth:`training_loss` (and
optionally :meth:`configure_optimizer`) and inherit the default ``fit_normal`` loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

BatchFactory = Callable[[], Iterator[torch.Tensor]]
"""Returns a fresh pass over the normal training images: normalised ``[B, C, H, W]`` batches."""


class OneClassModel(torch.nn.Module):
    """Base class of anomaly models. Subclass it and implement :meth:`score`, plus either
    :meth:`fit_normal` or :meth:`training_loss`."""

    def fit_normal(self, batches: BatchFactory, *, epochs: int,
                   on_epoch: Callable[[int, dict[str, float]], None]) -> None:
        """Fit on normal images; the default trains :meth:`training_loss` for ``epochs`` epochs.

        Args:
            batches: call it for one pass over the normal training images.
            epochs: the experiment's ``train.epochs`` (a model fitted in one pass may ignore it).
            on_epoch: call ``on_epoch(epoch, {"train.loss": ...})`` after each epoch (1-based),
                for the history, the progress line and the ``harness_epoch_end`` hook.
        """
        optimizer = self.configure_optimizer()
        for epoch in range(1, epochs + 1):
            self.train()
            total, count = 0.0, 0
            for images in batches():
                loss = self.training_loss(images)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total, count = total + float(loss) * len(images), count + len(images)
            on_epoch(epoch, {"train.loss": total / max(count, 1)})

    def planned_epochs(self, epochs: int) -> int:
        """How many epochs :meth:`fit_normal` runs when ``train.epochs`` is ``epochs``: all of
        them by default; a model fitted in one pass returns 1 (progress lines and hooks say so)."""
        return epochs

    def training_loss(self, images: torch.Tensor) -> torch.Tensor:
        """The loss of one batch of normal images (gradient-trained models)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither fit_normal nor training_loss")

    def configure_optimizer(self) -> torch.optim.Optimizer:
        """The optimizer of the default loop: Adam at 1e-3 over the trainable parameters."""
        return torch.optim.Adam([p for p in self.parameters() if p.requires_grad], lr=1e-3)

    def score(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``([B] scores, [B, h, w] anomaly maps or None)`` for normalised images, in eval mode."""
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> dict[str, Any]:
        """``{"score": [B], "maps": {"anomaly": [B, h, w]}}`` (latency and export use this)."""
        score, anomaly_map = self.score(images)
        return {"score": score, "maps": {"anomaly": anomaly_map} if anomaly_map is not None else {}}

"""Every TTA view of a batch in one forward pass."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import HarnessError
from harness.tta.checks import resolve
from harness.tta.store import save_tta

if TYPE_CHECKING:
    import torch


def _forward_probs(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    import torch

    from harness.model import Batch, split_outputs
    from harness.train.evaluate import forward

    batch = Batch(images, labels, None, None, training=False, epoch=0, num_epochs=1, progress=1.0)
    logits, _ = split_outputs(forward(model, batch))
    return torch.softmax(logits.float(), dim=1)


def predict_views(model: torch.nn.Module, images_uint8: torch.Tensor, views: list[str],
                  normalize: Callable[[torch.Tensor], torch.Tensor], batch_size: int, device: torch.device,
                  registries: dict[str, Any], labels: torch.Tensor | None = None) -> np.ndarray:
    """Per-view class probabilities, every view of a mini-batch in one forward pass.

    Args:
        model: the trained model (put in eval mode here).
        images_uint8: ``[N, 3, H, W]`` uint8 images (tensor or array).
        views: names of registered TTA views.
        normalize: uint8-range float images to the model's input (``Normalizer``).
        batch_size: input images per step; a forward pass holds ``batch_size`` times
            the views' total forwards.
        device: where the model lives.
        registries: the plugin registries (``"tta"`` is used).
        labels: ``[N]`` labels handed to ``forward_batch`` models, zeros when None.

    Returns:
        ``[V, N, K]`` float64 probabilities, one slice per view in ``views`` order.
    """
    import torch

    built = [resolve(name, "view", registries) for name in views]
    images_uint8 = torch.as_tensor(images_uint8)
    if batch_size < 1:
        raise HarnessError(f"batch_size must be >= 1, got {batch_size}")
    labels = torch.zeros(len(images_uint8), dtype=torch.int64) if labels is None else labels
    model.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(images_uint8), batch_size):
            x = images_uint8[start:start + batch_size].to(device).float()  # [B, 3, H, W] in [0, 255]
            b = x.shape[0]
            stacked = torch.cat([view(x) for view in built])  # [F * B, 3, H, W]
            y = labels[start:start + b].to(device).repeat(stacked.shape[0] // b)
            probs = _forward_probs(model, normalize(stacked), y).double().cpu()  # [F * B, K]
            per_view, offset = [], 0
            for view in built:
                n = view.forwards
                per_view.append(probs[offset:offset + n * b].view(n, b, -1).mean(dim=0))
                offset += n * b
            parts.append(torch.stack(per_view))  # [V, B, K]
    return torch.cat(parts, dim=1).numpy()


def store_tta(model: torch.nn.Module, data: Any, cell_dir: Path, split: str, views: list[str], *,
              normalize: Callable[[torch.Tensor], torch.Tensor], batch_size: int, device: torch.device,
              registries: dict[str, Any]) -> float:
    """Predict every view of a split (``SplitTensors``) and write ``tta_<split>.npz``.

    Returns:
        Seconds the batched inference took.
    """
    started = time.perf_counter()
    proba = predict_views(model, data.images, list(views), normalize, batch_size, device, registries,
                          labels=data.labels)
    seconds = time.perf_counter() - started
    save_tta(cell_dir, split, list(views), proba, tuple(data.sample_ids), seconds)
    return seconds

"""Split arrays as tensors, batched augmentation and normalisation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from harness.data import Split

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class SplitTensors:
    """A split decoded once into tensors: images stay uint8 until a batch is drawn."""

    images: torch.Tensor  # [N, 3, H, W] uint8
    labels: torch.Tensor  # [N] int64
    masks: torch.Tensor | None  # [N, H, W] uint8
    has_mask: torch.Tensor | None  # [N] bool
    sample_ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


def to_tensors(split: Split) -> SplitTensors:
    images = torch.from_numpy(np.ascontiguousarray(split.images)).permute(0, 3, 1, 2)  # [N, C, H, W]
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)  # grey to RGB so every backbone takes it
    elif images.shape[1] != 3:
        raise ValueError(f"images must have 1 or 3 channels, got {images.shape[1]}")
    masks = torch.from_numpy(np.ascontiguousarray(split.masks)) if split.masks is not None else None
    has_mask = torch.from_numpy(np.asarray(split.has_mask, dtype=bool)) if split.has_mask is not None else None
    if masks is not None and has_mask is None:
        has_mask = torch.ones(len(split.labels), dtype=torch.bool)
    return SplitTensors(images.contiguous(), torch.as_tensor(split.labels, dtype=torch.int64), masks, has_mask,
                        tuple(split.sample_ids))


class Normalizer:
    """uint8 ``[B, 3, H, W]`` to normalised float."""

    def __init__(self, device: torch.device):
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float() / 255.0 - self.mean) / self.std


def augment(
    images: torch.Tensor, masks: torch.Tensor | None, probs: dict[str, float], generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-sample random flips and quarter turns, applied to a whole batch at once.

    Args:
        images: ``[B, C, H, W]``.
        masks: ``[B, H, W]`` or None; transformed exactly like their images.
        probs: probability of ``hflip``, ``vflip`` and ``rot90`` per sample.
        generator: the cell's seeded generator, so augmentation is reproducible.
    """
    b = images.shape[0]
    ops = [("hflip", lambda t: t.flip(-1)), ("vflip", lambda t: t.flip(-2))]
    if images.shape[-1] == images.shape[-2]:
        ops.append(("rot90", lambda t: t.rot90(1, dims=(-2, -1))))
    for name, op in ops:
        p = float(probs.get(name, 0.0))
        if p <= 0:
            continue
        chosen = torch.rand(b, generator=generator) < p  # [B]
        if not chosen.any():
            continue
        images = torch.where(chosen.view(b, 1, 1, 1).to(images.device), op(images), images)
        if masks is not None:
            masks = torch.where(chosen.view(b, 1, 1).to(masks.device), op(masks), masks)
    return images, masks

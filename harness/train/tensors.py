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
        mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
        self.scale = 1.0 / (255.0 * std)  # (x / 255 - mean) / std as one multiply-add
        self.shift = -mean / std

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, images.float(), self.scale)


def _chosen(b: int, p: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(b, generator=generator) < p  # [B]


def _resized_crop(images: torch.Tensor, masks: torch.Tensor | None, chosen: torch.Tensor,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A random crop of 60-100% of the area, resized back, for the chosen samples."""
    import torch.nn.functional as F

    b, _, h, w = images.shape
    scale = 0.6 + 0.4 * torch.rand(b, generator=generator)
    side = scale.sqrt()  # [B] crop side as a fraction of the image
    top = (1 - side) * torch.rand(b, generator=generator)
    left = (1 - side) * torch.rand(b, generator=generator)
    # affine grid mapping output [-1, 1] onto the crop box, identity for samples not chosen
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = torch.where(chosen, side, torch.ones(b))
    theta[:, 1, 1] = torch.where(chosen, side, torch.ones(b))
    theta[:, 0, 2] = torch.where(chosen, 2 * left + side - 1, torch.zeros(b))
    theta[:, 1, 2] = torch.where(chosen, 2 * top + side - 1, torch.zeros(b))
    grid = F.affine_grid(theta.to(images.device), [b, 1, h, w], align_corners=False)
    out = F.grid_sample(images.float(), grid, mode="bilinear", align_corners=False).round().to(images.dtype)
    if masks is not None:
        masks = F.grid_sample(masks[:, None].float(), grid, mode="nearest", align_corners=False)[:, 0].to(masks.dtype)
    return out, masks


def _photometric(images: torch.Tensor, probs: dict[str, float], generator: torch.Generator) -> torch.Tensor:
    """Colour jitter (brightness, contrast) and Gaussian noise; masks are unaffected."""
    b = images.shape[0]
    jitter, noise = float(probs.get("color_jitter", 0.0)), float(probs.get("noise", 0.0))
    if jitter <= 0 and noise <= 0:
        return images
    out = images.float()
    if jitter > 0:
        on = _chosen(b, jitter, generator).to(out.device).view(b, 1, 1, 1)
        brightness = (0.8 + 0.4 * torch.rand(b, 1, 1, 1, generator=generator)).to(out.device)
        contrast = (0.8 + 0.4 * torch.rand(b, 1, 1, 1, generator=generator)).to(out.device)
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = torch.where(on, ((out - mean) * contrast + mean) * brightness, out)
    if noise > 0:
        on = _chosen(b, noise, generator).to(out.device).view(b, 1, 1, 1)
        sigma = 255 * 0.04
        out = torch.where(on, out + sigma * torch.randn(out.shape, generator=generator).to(out.device), out)
    return out.round().clamp(0, 255).to(images.dtype)


def augment(
    images: torch.Tensor, masks: torch.Tensor | None, probs: dict[str, float], generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-sample random augmentation applied to a whole batch at once.

    Args:
        images: ``[B, C, H, W]`` uint8.
        masks: ``[B, H, W]`` or None; moved exactly like their images (not recoloured).
        probs: per-sample probability of ``hflip``, ``vflip``, ``rot90`` (square images),
            ``resized_crop``, ``color_jitter`` and ``noise``.
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
        chosen = _chosen(b, p, generator)
        if not chosen.any():
            continue
        images = torch.where(chosen.view(b, 1, 1, 1).to(images.device), op(images), images)
        if masks is not None:
            masks = torch.where(chosen.view(b, 1, 1).to(masks.device), op(masks), masks)
    if float(probs.get("resized_crop", 0.0)) > 0:
        chosen = _chosen(b, float(probs["resized_crop"]), generator)
        if chosen.any():
            images, masks = _resized_crop(images, masks, chosen, generator)
    return _photometric(images, probs, generator), masks

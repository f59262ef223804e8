"""Split arrays as tensors, batched augmentation and normalisation.

A split's images stay where the dataset put them (usually the memory-mapped cache):
:func:`to_tensors` wraps them without copying, and a batch is gathered from them when it is
drawn, so a cell never holds a second copy of its training split in memory.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from harness.data import Split
from harness.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessing

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "Normalizer", "SplitTensors", "augment", "eval_tensors", "to_tensors"]

_CROP_CHUNK = 64  # images per step of the evaluation crop: bounds its float working memory


@dataclass
class SplitTensors:
    """A split as tensors: images stay uint8 (and in the cache) until a batch is drawn."""

    images: torch.Tensor  # [N, 3, H, W] uint8, a channels-last view of the [N, H, W, C] array
    labels: torch.Tensor  # [N] int64
    masks: torch.Tensor | None  # [N, H, W] uint8
    has_mask: torch.Tensor | None  # [N] bool
    sample_ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


def _wrap(array: np.ndarray) -> torch.Tensor:
    """A tensor over ``array``'s memory (a memory map stays a memory map)."""
    if not (array.flags.c_contiguous or array.flags.f_contiguous):
        array = np.ascontiguousarray(array)
    with warnings.catch_warnings():  # a read-only map: the tensor is never written to
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


def to_tensors(split: Split) -> SplitTensors:
    """The split as tensors without copying its images or masks."""
    images = _wrap(split.images).permute(0, 3, 1, 2)  # [N, C, H, W] view, no copy
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)  # grey to RGB so every backbone takes it
    elif images.shape[1] != 3:
        raise ValueError(f"images must have 1 or 3 channels, got {images.shape[1]}")
    masks = _wrap(split.masks) if split.masks is not None else None
    has_mask = torch.from_numpy(np.asarray(split.has_mask, dtype=bool)) if split.has_mask is not None else None
    if masks is not None and has_mask is None:
        has_mask = torch.ones(len(split.labels), dtype=torch.bool)
    return SplitTensors(images, torch.as_tensor(split.labels, dtype=torch.int64), masks, has_mask,
                        tuple(split.sample_ids))


def eval_tensors(split: Split, preprocessing: Preprocessing) -> SplitTensors:
    """The split as the model sees it at evaluation: centre-cropped when ``crop_pct`` < 1.

    Images and masks are cropped together, so maps stay aligned with their masks. With
    ``crop_pct == 1`` nothing is copied.
    """
    data = to_tensors(split)
    if preprocessing.crop_pct >= 1.0:
        return data
    images, masks = [], []
    for lo in range(0, len(data), _CROP_CHUNK):
        part = slice(lo, lo + _CROP_CHUNK)
        img, mask = preprocessing.eval_crop(data.images[part], data.masks[part] if data.masks is not None else None)
        images.append(img)
        masks.append(mask)
    if not images:
        return data
    return SplitTensors(torch.cat(images), data.labels, torch.cat(masks) if data.masks is not None else None,
                        data.has_mask, data.sample_ids)


class Normalizer:
    """uint8-range ``[B, 3, H, W]`` images (uint8 or float 0-255) to the model's normalised float input."""

    def __init__(self, device: torch.device | None = None, preprocessing: Preprocessing | None = None):
        self.preprocessing = preprocessing or Preprocessing()

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.preprocessing.normalize(images, max_value=255.0)


def _chosen(b: int, p: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(b, generator=generator) < p  # [B]


def _resized_crop(images: torch.Tensor, masks: torch.Tensor | None, chosen: torch.Tensor,
                  generator: torch.Generator, mode: str = "bilinear") -> tuple[torch.Tensor, torch.Tensor | None]:
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
    mode = mode if mode in ("bilinear", "bicubic", "nearest") else "bilinear"  # what grid_sample offers
    out = F.grid_sample(images.float(), grid, mode=mode, align_corners=False).round().clamp(0, 255).to(images.dtype)
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
    images: torch.Tensor, masks: torch.Tensor | None, probs: dict[str, float], generator: torch.Generator,
    interpolation: str = "bilinear",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-sample random augmentation applied to a whole batch at once.

    Args:
        images: ``[B, C, H, W]`` uint8.
        masks: ``[B, H, W]`` or None; moved exactly like their images (not recoloured).
        probs: per-sample probability of ``hflip``, ``vflip``, ``rot90`` (square images),
            ``resized_crop``, ``color_jitter`` and ``noise``.
        generator: the cell's seeded generator, so augmentation is reproducible.
        interpolation: resampling of the resized crop (the model's
            :attr:`harness.Preprocessing.torch_mode`).
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
            images, masks = _resized_crop(images, masks, chosen, generator, interpolation)
    return _photometric(images, probs, generator), masks

"""The CATS encoder: an image becomes a sequence of per-patch CNN feature vectors."""

from __future__ import annotations

import difflib

import torch
from torch import nn

from harness import HarnessError
from harness_cats.options import Extractor


def build_patch_cnn(extractor: Extractor, in_channels: int) -> tuple[nn.Module, int]:
    """A randomly initialised timm CNN cut after ``extractor.stage``.

    Args:
        extractor: the parsed ``<timm_arch>_feat<k>`` name.
        in_channels: channels of the input images.

    Returns:
        ``(cnn, channels)``: ``cnn(x)`` returns a one-element list holding the stage's
        feature map, and ``channels`` is that map's channel count.

    Raises:
        HarnessError: timm does not know the arch, or it has fewer stages than asked.
    """
    import timm

    if not timm.is_model(extractor.arch):
        close = difflib.get_close_matches(extractor.arch, timm.list_models(), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise HarnessError(f"cats: cnn_feature_extractor names unknown timm architecture {extractor.arch!r}.{hint}")
    stages = len(timm.create_model(extractor.arch, features_only=True, pretrained=False).feature_info)
    if extractor.stage > stages:
        raise HarnessError(
            f"cats: cnn_feature_extractor asks for stage {extractor.stage} but {extractor.arch} has {stages}"
        )
    kwargs = dict(features_only=True, out_indices=(extractor.out_index,), pretrained=False, in_chans=in_channels)
    try:
        # The "getter" wrapper prunes every layer after the cut; plain features_only keeps
        # (and for some archs still runs) the whole network.
        cnn = timm.create_model(extractor.arch, feature_cls="getter", **kwargs)
    except Exception:  # archs without forward_intermediates
        cnn = timm.create_model(extractor.arch, **kwargs)
    return cnn, int(cnn.feature_info.channels()[-1])


def to_patches(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Non-overlapping ``patch_size`` squares, row-major over the patch grid.

    Args:
        images: ``[B, C, H, W]`` with H and W multiples of ``patch_size``.
        patch_size: side of a square patch in pixels.

    Returns:
        ``[B, gh * gw, C, P, P]`` where ``gh = H // P`` and ``gw = W // P``.
    """
    b, c, h, w = images.shape
    if h % patch_size or w % patch_size:
        raise HarnessError(f"cats: image size {h}x{w} is not divisible by patch_size {patch_size}")
    patches = images.unfold(2, patch_size, patch_size).unfold(3, patch_size, patch_size)  # [B, C, gh, gw, P, P]
    patches = patches.permute(0, 2, 3, 1, 4, 5)  # [B, gh, gw, C, P, P]
    return patches.reshape(b, -1, c, patch_size, patch_size)  # [B, N, C, P, P]


class PatchConvEncoder(nn.Module):
    """Splits images into patches and encodes every patch with one shared CNN.

    Args:
        patch_size: side of a square patch in pixels.
        cnn: module mapping ``[M, C, P, P]`` to a list whose last item is
            ``[M, D, h, w]``.
        featured_patch_dim: ``D``, channels of the CNN's output stage.
    """

    def __init__(self, patch_size: int, cnn: nn.Module, featured_patch_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.cnn = cnn
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
        self.norm = nn.LayerNorm(featured_patch_dim)

    def grid(self, images: torch.Tensor) -> tuple[int, int]:
        """``(gh, gw)``: patch rows and columns for ``images`` ``[B, C, H, W]``."""
        return images.shape[-2] // self.patch_size, images.shape[-1] // self.patch_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Encode ``[B, C, H, W]`` images into ``[B, N, D]`` patch features."""
        patches = to_patches(images, self.patch_size)  # [B, N, C, P, P]
        b, n = patches.shape[:2]
        # All patches of the batch go through the CNN as one batch: one shared encoder.
        features = self.cnn(patches.flatten(0, 1))[-1]  # [B*N, D, h, w]
        features = self.norm(self.pool(features))  # [B*N, D]
        return features.view(b, n, -1)  # [B, N, D]

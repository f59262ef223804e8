"""The assembled CATS hybrid: patch CNN encoder, cross-attention decoder, MLP classifier."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harness import HarnessError
from harness_cats.decoder import CatsDecoder
from harness_cats.encoder import PatchConvEncoder, build_patch_cnn
from harness_cats.options import check, parse_extractor, resolve

_DEFAULT_POS_GRID = (4, 4)
"""Grid of the positional encoding when ``img_size`` is not given (the document's 480/120)."""


class Classifier(nn.Module):
    """Linear, ReLU, Dropout, Linear: decoder features ``[B, F]`` to logits ``[B, K]``."""

    def __init__(self, in_features: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.projection = nn.Sequential(
            nn.Linear(in_features, in_features), nn.ReLU(), nn.Dropout(dropout), nn.Linear(in_features, num_classes)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, K]`` for decoder features ``[B, F]``."""
        return self.projection(features)


class CatsModel(nn.Module):
    """Encoder, decoder and classifier; returns logits and a patch attention map.

    Args:
        encoder: images ``[B, C, H, W]`` to patch features ``[B, N, D]``.
        decoder: patch features to ``[B, Q * D]`` plus per-layer attention weights.
        classifier: ``[B, Q * D]`` to logits ``[B, K]``.
    """

    def __init__(self, encoder: PatchConvEncoder, decoder: CatsDecoder, classifier: Classifier) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.classifier = classifier

    def _run(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], tuple[int, int]]:
        grid = self.encoder.grid(images)
        patches = self.encoder(images)  # [B, N, D]
        features, weights = self.decoder(patches, grid)  # [B, Q*D], L x [B, h, Q, N]
        return self.classifier(features), weights, grid  # [B, K]

    def forward(self, images: torch.Tensor) -> dict[str, Any]:
        """Classify ``[B, C, H, W]`` images.

        Returns:
            ``{"logits": [B, K], "maps": {"attention": [B, gh, gw]}}``; the map is the
            last layer's query-to-patch attention averaged over heads and queries, laid
            out on the patch grid, so each image's map sums to 1.
        """
        logits, weights, (gh, gw) = self._run(images)
        attention = weights[-1].mean(dim=(1, 2))  # [B, N]
        return {"logits": logits, "maps": {"attention": attention.view(-1, gh, gw)}}  # [B, gh, gw]

    def attention_weights(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Per-layer attention weights ``[B, heads, Q, N]`` for ``images`` ``[B, C, H, W]``."""
        return self._run(images)[1]


def build_cats(num_classes: int, **options: Any) -> CatsModel:
    """Build a CATS model: its patch CNN randomly initialised, or from ``pretrained`` / ``weights``.

    Args:
        num_classes: number of output classes.
        **options: see ``harness_cats.options.DEFAULTS``.

    Returns:
        The model.

    Raises:
        HarnessError: invalid options, a patch CNN whose output stage does not
            have ``featured_patch_dim`` channels, or starting weights that cannot be had.
    """
    problems = check(options)
    if problems:
        raise HarnessError("cats: " + "; ".join(f"{key}: {message}" for key, message in problems))
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise HarnessError(f"cats: num_classes must be a positive integer, got {num_classes!r}")
    opts = resolve(options)
    extractor = parse_extractor(opts["cnn_feature_extractor"])
    cnn, channels = build_patch_cnn(extractor, opts["in_channels"])
    if channels != opts["featured_patch_dim"]:
        raise HarnessError(
            f"cats: featured_patch_dim is {opts['featured_patch_dim']} but the patch CNN "
            f"{opts['cnn_feature_extractor']} gives {channels} channels; set featured_patch_dim = {channels}"
        )
    from harness_timm import load_backbone

    load_backbone(cnn, extractor.arch, pretrained=opts["pretrained"], weights=opts["weights"],
                  owner=f"cats: cnn_feature_extractor {opts['cnn_feature_extractor']!r}")
    if opts["img_size"] is None:
        pos_grid = _DEFAULT_POS_GRID
    else:
        pos_grid = (opts["img_size"] // opts["patch_size"],) * 2
    decoder = CatsDecoder(
        featured_patch_dim=channels,
        emb_dim=opts["emb_dim"],
        num_heads=opts["num_heads"],
        num_layers=opts["num_decoder_layers"],
        num_queries=opts["num_decoder_patches"],
        ff_dim=opts["ff_dim"],
        dropout=opts["dropout"],
        pos_grid=pos_grid,
    )
    encoder = PatchConvEncoder(opts["patch_size"], cnn, channels)
    classifier = Classifier(opts["num_decoder_patches"] * channels, num_classes, opts["dropout"])
    return CatsModel(encoder, decoder, classifier)

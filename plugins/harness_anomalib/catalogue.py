"""The anomalib image models, and what each needs that a machine without a network lacks.

``IMAGE_MODELS`` lets ``harness validate`` name a misspelt model without importing
anomalib (tens of seconds cold); the model class itself is looked up when the cell builds.
"""

from __future__ import annotations

IMAGE_MODELS: tuple[str, ...] = (
    "AnomalyDINO", "Cfa", "Cflow", "Csflow", "Dfkde", "Dfm", "Dinomaly", "Draem", "Dsr", "EfficientAd",
    "Fastflow", "Fre", "Ganomaly", "Glass", "InpFormer", "MHPatchcore", "Padim", "Patchcore", "ReverseDistillation",
    "Stfpm", "SuperADD", "Supersimplenet", "Uflow", "UniNet", "VlmAd", "WinClip",
)
"""Image-level model classes of ``anomalib.models`` (2.x) this adapter can try."""

NEEDS_DOWNLOAD: dict[str, str] = {
    "Cfa": "ImageNet weights of its torchvision backbone (download.pytorch.org)",
    "Csflow": "ImageNet weights of its EfficientNet-B5 feature extractor (download.pytorch.org)",
    "Dsr": "its pretrained VQ-VAE weights",
    "EfficientAd": "its pretrained teacher weights and an ImageNet subset",
    "WinClip": "CLIP weights",
    "AnomalyDINO": "DINOv2 weights",
    "Dinomaly": "DINOv2 weights",
    "VlmAd": "a vision-language model service",
    "Glass": "the DTD texture data set",
}
"""Known downloads; anything else that reaches for the network is caught when the cell builds."""

LITE0_DEFAULTS: dict[str, dict[str, object]] = {
    "Patchcore": {"layers": ["blocks.2", "blocks.4"]},
    "Padim": {"layers": ["blocks.1", "blocks.2", "blocks.4"], "n_features": 50},
    "Stfpm": {"layers": ["blocks.1", "blocks.2", "blocks.4"]},
    "Dfm": {"layer": "blocks.4"},
    "Dfkde": {"layers": ["blocks.4"]},
    "Cflow": {"layers": ["blocks.1", "blocks.2", "blocks.4"]},
    "Supersimplenet": {"layers": ["blocks.2", "blocks.4"]},
}
"""Feature stages of ``tf_efficientnet_lite0`` (strides 4, 8, 16: ``blocks.1``, ``blocks.2``,
``blocks.4``) for models whose defaults name ResNet layers; options given in the
experiment win."""

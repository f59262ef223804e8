"""Options of the ``cats`` model and their validation, without importing torch or timm.

The CNN that encodes each patch is named ``<timm_arch>_feat<k>``: the timm architecture
cut after its ``k``-th feature stage, counted from 1 in the order of timm's
``feature_info`` (so ``efficientnet_b0_feat2`` is the 24-channel stage at stride 4, timm
``out_indices=(1,)``).

Its starting weights: ``pretrained = true`` loads the offline ImageNet weights when the
patch CNN is ``tf_efficientnet_lite0_feat<k>`` (any other architecture would need the
model hub and is refused); ``weights = "path"`` loads a local safetensors file or state
dict of the whole timm network (the layers after the cut are left out). ``crop_pct``
overrides the patch CNN's evaluation crop (see :mod:`harness.preprocess`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from harness import options as opt

STAGE_CHANNELS: dict[str, tuple[int, ...]] = {
    "efficientnet_b0": (16, 24, 40, 112, 320),
    "efficientnet_b1": (16, 24, 40, 112, 320),
    "efficientnet_b2": (16, 24, 48, 120, 352),
    "efficientnet_lite0": (16, 24, 40, 112, 320),
    "tf_efficientnet_lite0": (16, 24, 40, 112, 320),
    "mobilenetv3_large_100": (16, 24, 40, 112, 960),
    "mobilenetv3_small_100": (16, 16, 24, 48, 576),
    "convnext_atto": (40, 80, 160, 320),
    "convnext_tiny": (96, 192, 384, 768),
    "resnet18": (64, 64, 128, 256, 512),
    "resnet34": (64, 64, 128, 256, 512),
    "resnet50": (64, 256, 512, 1024, 2048),
}
"""Channels of each timm feature stage (``features_only``) for common archs.

Lets :func:`check` catch a wrong ``featured_patch_dim`` without building the CNN; other
archs are checked when the model is built.
"""

_EXTRACTOR = re.compile(r"^(?P<arch>[A-Za-z0-9_.]+?)_feat(?P<stage>\d+)$")
LITE0_ARCH = "tf_efficientnet_lite0"  # the one architecture with offline ImageNet weights


@dataclass(frozen=True)
class Extractor:
    """A parsed ``<timm_arch>_feat<k>`` name.

    Attributes:
        arch: the timm architecture.
        stage: 1-based feature stage after which the CNN is cut.
    """

    arch: str
    stage: int

    @property
    def out_index(self) -> int:
        """The 0-based index timm's ``out_indices`` expects."""
        return self.stage - 1


def parse_extractor(name: Any) -> Extractor | None:
    """Parse ``"efficientnet_b0_feat2"`` into ``Extractor("efficientnet_b0", 2)``.

    Returns:
        The parsed name, or None when it does not have the ``<arch>_feat<k>`` form
        with ``k >= 1``.
    """
    match = _EXTRACTOR.match(name) if isinstance(name, str) else None
    if match is None or int(match["stage"]) < 1:
        return None
    return Extractor(match["arch"], int(match["stage"]))


def _extractor_name(name: str) -> str | None:
    if parse_extractor(name) is None:
        return f"expected '<timm_arch>_feat<k>' with k >= 1 (e.g. 'efficientnet_b0_feat2'), got {name!r}"
    return None


def _existing_file(path: str) -> str | None:
    return None if os.path.isfile(path) else f"must be the path of a local weights file; {path!r} does not exist"


def _across(options: dict[str, Any]) -> list[opt.Problem]:
    """Rules between options, once each is well typed."""
    merged = resolve(options)
    problems = []
    if merged["img_size"] is not None and merged["img_size"] % merged["patch_size"]:
        problems.append(opt.Problem("patch_size", f"img_size {merged['img_size']} is not divisible by patch_size "
                                    f"{merged['patch_size']}: the image must split into whole, non-overlapping patches"))
    if merged["emb_dim"] % merged["num_heads"]:
        problems.append(opt.Problem("num_heads", f"num_heads {merged['num_heads']} does not divide emb_dim "
                                    f"{merged['emb_dim']}"))
    problems += _extractor_problems(merged)
    extractor = parse_extractor(merged["cnn_feature_extractor"])
    if merged["pretrained"] and merged["weights"]:
        problems.append(opt.Problem("weights", 'give either pretrained = true or weights = "path", not both'))
    elif merged["pretrained"] and extractor.arch != LITE0_ARCH:
        problems.append(opt.Problem("pretrained", (
            f"loads the offline ImageNet weights of {LITE0_ARCH!r} only; the patch CNN {extractor.arch!r} would "
            f'need the model hub: give local weights with weights = "path/to/file.safetensors", or use '
            f"cnn_feature_extractor = \"{LITE0_ARCH}_feat{extractor.stage}\"")))
    if merged["pretrained"] and merged["in_channels"] != 3:
        problems.append(opt.Problem("in_channels", f"pretrained weights take 3 input channels, not {merged['in_channels']}"))
    return problems


OPTIONS = opt.Options(
    "model 'cats'",
    extra=_across,
    img_size=opt.Int(None, min=1, nullable=True, doc="fixes the positional grid; omitted: any divisible size"),
    patch_size=opt.Int(16, min=1, doc="side of a square patch in pixels"),
    cnn_feature_extractor=opt.Str("efficientnet_b0_feat2", rule=_extractor_name, doc="<timm_arch>_feat<k>"),
    featured_patch_dim=opt.Int(24, min=1, doc="channels of the patch CNN's output stage"),
    emb_dim=opt.Int(24, min=1),
    num_heads=opt.Int(2, min=1),
    num_decoder_layers=opt.Int(2, min=1),
    num_decoder_patches=opt.Int(1, min=1, doc="learnable queries"),
    ff_dim=opt.Int(None, min=1, nullable=True, doc="default 2 * emb_dim"),
    dropout=opt.Float(0.1, min=0, lt=1),
    in_channels=opt.Int(3, min=1),
    pretrained=opt.Bool(False, doc=f"offline ImageNet weights for a {LITE0_ARCH} patch CNN"),
    weights=opt.Str(None, nullable=True, rule=_existing_file, doc="local weights of the patch CNN's timm network"),
    crop_pct=opt.Float(None, gt=0, max=1, nullable=True, doc="evaluation crop; default: the patch CNN's own"),
)
"""Every option of the ``cats`` model, with its default: sized for CPU runs on 64 px images."""

DEFAULTS: dict[str, Any] = {name: option.default for name, option in OPTIONS.spec.items()}
"""Every option with its default."""


def resolve(options: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``options``, and ``ff_dim`` filled in from ``emb_dim``."""
    merged = {**DEFAULTS, **options}
    if merged["ff_dim"] is None and opt.is_int(merged["emb_dim"]) and merged["emb_dim"] > 0:
        merged["ff_dim"] = 2 * merged["emb_dim"]
    return merged


def check(options: dict[str, Any]) -> list[opt.Problem]:
    """Every problem with the ``cats`` options, without importing torch or timm.

    Args:
        options: the model block of an experiment, minus ``plugin``.

    Returns:
        one :class:`harness.Problem` per problem; empty when the options are valid as
        far as can be told without building the CNN.
    """
    return OPTIONS.check(options)


def _extractor_problems(merged: dict[str, Any]) -> list[opt.Problem]:
    extractor = parse_extractor(merged["cnn_feature_extractor"])
    channels = STAGE_CHANNELS.get(extractor.arch)
    if channels is None:
        return []  # checked against the built CNN instead
    if extractor.stage > len(channels):
        return [opt.Problem("cnn_feature_extractor",
                            f"{extractor.arch} has {len(channels)} feature stages, not {extractor.stage}")]
    expected = channels[extractor.out_index]
    if merged["featured_patch_dim"] != expected:
        return [opt.Problem("featured_patch_dim", f"is {merged['featured_patch_dim']} but the patch CNN "
                            f"{merged['cnn_feature_extractor']} gives {expected} channels; "
                            f"set featured_patch_dim = {expected}")]
    return []

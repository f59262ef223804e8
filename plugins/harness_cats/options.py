"""Options of the ``cats`` model and their validation, without importing torch or timm.

The CNN that encodes each patch is named ``<timm_arch>_feat<k>``: the timm architecture
cut after its ``k``-th feature stage, counted from 1 in the order of timm's
``feature_info`` (so ``efficientnet_b0_feat2`` is the 24-channel stage at stride 4, timm
``out_indices=(1,)``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

DEFAULTS: dict[str, Any] = {
    "img_size": None,
    "patch_size": 16,
    "cnn_feature_extractor": "efficientnet_b0_feat2",
    "featured_patch_dim": 24,
    "emb_dim": 24,
    "num_heads": 2,
    "num_decoder_layers": 2,
    "num_decoder_patches": 1,
    "ff_dim": None,
    "dropout": 0.1,
    "in_channels": 3,
}
"""Every option with its default: sized for CPU runs on 64 px images."""

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
_POSITIVE_INTS = (
    "patch_size",
    "featured_patch_dim",
    "emb_dim",
    "num_heads",
    "num_decoder_layers",
    "num_decoder_patches",
    "in_channels",
)


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


def resolve(options: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``options``, and ``ff_dim`` filled in from ``emb_dim``."""
    merged = {**DEFAULTS, **options}
    if merged["ff_dim"] is None and _is_positive_int(merged["emb_dim"]):
        merged["ff_dim"] = 2 * merged["emb_dim"]
    return merged


def check(options: dict[str, Any]) -> list[tuple[str, str]]:
    """Every problem with the ``cats`` options, without importing torch or timm.

    Args:
        options: the model block of an experiment, minus ``plugin``.

    Returns:
        ``(option_key, message)`` pairs; empty when the options are valid as far as
        can be told without building the CNN.
    """
    problems = _unknown_keys(options)
    merged = resolve({k: v for k, v in options.items() if k in DEFAULTS})
    problems += _type_problems(merged)
    bad = {key for key, _ in problems}
    if not bad & {"img_size", "patch_size"} and merged["img_size"] is not None:
        if merged["img_size"] % merged["patch_size"]:
            problems.append(
                (
                    "patch_size",
                    f"img_size {merged['img_size']} is not divisible by patch_size {merged['patch_size']}: "
                    "the image must split into whole, non-overlapping patches",
                )
            )
    if not bad & {"emb_dim", "num_heads"} and merged["emb_dim"] % merged["num_heads"]:
        problems.append(("num_heads", f"num_heads {merged['num_heads']} does not divide emb_dim {merged['emb_dim']}"))
    if "featured_patch_dim" not in bad:
        problems += _extractor_problems(merged)
    return problems


def _unknown_keys(options: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for key in options:
        if key in DEFAULTS or key == "num_classes":
            continue
        close = difflib.get_close_matches(str(key), list(DEFAULTS), n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        problems.append((key, f"unknown option of model 'cats'.{hint} Known: {', '.join(DEFAULTS)}"))
    return problems


def _type_problems(merged: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for key in _POSITIVE_INTS + ("ff_dim",):
        if key == "ff_dim" and merged[key] is None:
            continue  # left unset because emb_dim is invalid, which is reported already
        if not _is_positive_int(merged[key]):
            problems.append((key, f"must be a positive integer, got {merged[key]!r}"))
    if merged["img_size"] is not None and not _is_positive_int(merged["img_size"]):
        problems.append(("img_size", f"must be a positive integer or omitted, got {merged['img_size']!r}"))
    dropout = merged["dropout"]
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        problems.append(("dropout", f"must be a number in [0, 1), got {dropout!r}"))
    return problems


def _extractor_problems(merged: dict[str, Any]) -> list[tuple[str, str]]:
    name = merged["cnn_feature_extractor"]
    extractor = parse_extractor(name)
    if extractor is None:
        return [
            (
                "cnn_feature_extractor",
                f"expected '<timm_arch>_feat<k>' with k >= 1 (e.g. 'efficientnet_b0_feat2'), got {name!r}",
            )
        ]
    channels = STAGE_CHANNELS.get(extractor.arch)
    if channels is None:
        return []  # checked against the built CNN instead
    if extractor.stage > len(channels):
        return [
            ("cnn_feature_extractor", f"{extractor.arch} has {len(channels)} feature stages, not {extractor.stage}")
        ]
    expected = channels[extractor.out_index]
    if merged["featured_patch_dim"] != expected:
        return [
            (
                "featured_patch_dim",
                f"is {merged['featured_patch_dim']} but the patch CNN {name} gives {expected} channels; "
                f"set featured_patch_dim = {expected}",
            )
        ]
    return []


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0

"""Options of the ``gain-mtl`` model and their validation (no heavy imports)."""

from __future__ import annotations

import difflib
import os
from typing import Any

from harness import options as opt
from harness_gain.strategy import STRATEGIES

LITE0_ARCH = "tf_efficientnet_lite0"  # the one backbone with offline ImageNet weights
WEIGHT_OPTIONS = ("pretrained", "weights", "crop_pct")
"""Options about the backbone's starting weights and preprocessing, not the network's shape."""


def _check_strategy(value: str) -> str | None:
    if value in STRATEGIES:
        return None
    close = difflib.get_close_matches(str(value).upper(), STRATEGIES, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown strategy {value!r}.{hint} Expected one of {', '.join(STRATEGIES)}"


def _nonempty(value: str) -> str | None:
    return None if value else "must be a timm model name, e.g. 'efficientnet_b0'"


def _existing_file(path: str) -> str | None:
    return None if os.path.isfile(path) else f"must be the path of a local weights file; {path!r} does not exist"


def _weights_source(options: dict[str, Any]) -> list[opt.Problem]:
    merged = resolve_options(options)
    if merged["pretrained"] and merged["weights"]:
        return [opt.Problem("weights", 'give either pretrained = true or weights = "path", not both')]
    if merged["pretrained"] and merged["backbone"] != LITE0_ARCH:
        return [opt.Problem("pretrained", (
            f"loads the offline ImageNet weights of {LITE0_ARCH!r} only; backbone {merged['backbone']!r} would need "
            f'the model hub: give local weights with weights = "path/to/file.safetensors", or use '
            f'backbone = "{LITE0_ARCH}"'))]
    return []


OPTIONS = opt.Options(
    "model 'gain-mtl'",
    extra=_weights_source,
    backbone=opt.Str("tf_efficientnetv2_s", rule=_nonempty, doc="any timm model with features_only"),
    strategy=opt.Str("S5", rule=_check_strategy, doc="S1 ... S6"),
    fpn_channels=opt.Int(256, min=1),
    hidden=opt.Int(512, min=1, doc="classifier hidden width"),
    head_channels=opt.Int(256, min=1, doc="width of the attention, mining and counterfactual conv stacks"),
    dropout=opt.Float(0.5, min=0, lt=1),
    freeze_stages=opt.Int(0, min=0, doc="stem and this many early stages get no gradient"),
    inference_mask=opt.Bool(False, doc="S6: fuse the batch's masks into the attention at evaluation too"),
    focal_gamma=opt.Float(2.0, min=0),
    pretrained=opt.Bool(False, doc=f"offline ImageNet weights for a {LITE0_ARCH} backbone"),
    weights=opt.Str(None, nullable=True, rule=_existing_file, doc="local weights of the timm backbone"),
    crop_pct=opt.Float(None, gt=0, max=1, nullable=True, doc="evaluation crop; default: the backbone's own"),
)
"""Every option of ``gain-mtl`` with its default."""

DEFAULTS: dict[str, Any] = {name: option.default for name, option in OPTIONS.spec.items()}
"""Every option and its default."""


def check_options(options: dict[str, Any]) -> list[opt.Problem]:
    """Validate ``gain-mtl`` options without importing torch.

    Args:
        options: the model block's options (a ``plugin`` key is ignored).

    Returns:
        one :class:`harness.Problem` per problem; empty when all is well.
    """
    return OPTIONS.check({k: v for k, v in options.items() if k != "plugin"})


def resolve_options(options: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``options`` (without ``plugin``); assumes they were checked."""
    return {**DEFAULTS, **{k: v for k, v in options.items() if k != "plugin"}}

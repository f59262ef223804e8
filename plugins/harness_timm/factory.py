"""Building timm models: by name, from local weights, or pretrained without surprises.

Nothing here downloads by itself unless ``pretrained = true`` is asked for an
architecture whose weights are not available offline; with ``HF_HUB_OFFLINE=1`` (or no
network) that request fails with a message naming the ``weights`` option.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from harness import HarnessError
from harness_timm.lite0 import LITE0_ARCH, load_lite0
from harness_timm.options import ATTENTION_DEFAULTS, check_attention, check_timm, raise_problems
from harness_timm.weights import load_weights, zero_classifier

if TYPE_CHECKING:
    from torch import nn


def _offline_hint(arch: str) -> str:
    hint = 'give local weights with weights = "path/to/file.safetensors" instead'
    if arch == "efficientnet_lite0":
        hint += f" (or use arch = {LITE0_ARCH!r}, whose ImageNet weights are available offline)"
    return hint


def build(arch: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """``timm.create_model`` with option errors as ``HarnessError``.

    Args:
        arch: timm architecture name.
        pretrained: fetch timm's pretrained weights (needs the model hub).
        **kwargs: passed to ``timm.create_model`` (``num_classes``, ``img_size``, ...).

    Raises:
        HarnessError: the architecture does not take one of the options, or the
            pretrained weights cannot be fetched.
    """
    import timm

    if pretrained and os.environ.get("HF_HUB_OFFLINE") == "1":
        raise HarnessError(
            f"pretrained = true for {arch!r} needs a download from the model hub, and HF_HUB_OFFLINE=1 is set; "
            + _offline_hint(arch))
    try:
        return timm.create_model(arch, pretrained=pretrained, **kwargs)
    except TypeError as exc:
        if "unexpected keyword argument" not in str(exc):
            raise
        option = str(exc).rsplit("argument", 1)[-1].strip(" '\"")
        raise HarnessError(f"{arch!r} does not take the option {option!r}") from exc
    except Exception as exc:  # noqa: BLE001 - any hub failure means the same thing to the user
        if not pretrained:
            raise
        raise HarnessError(
            f"pretrained weights for {arch!r} could not be downloaded ({type(exc).__name__}); this machine may be "
            "offline: " + _offline_hint(arch)) from exc


def create(num_classes: int, **options: Any) -> nn.Module:
    """A timm model with ``num_classes`` outputs.

    Args:
        num_classes: number of classes.
        **options: ``arch`` (required), ``pretrained``, ``weights``, ``drop_rate``,
            ``drop_path_rate``, ``img_size`` (see the package docstring).

    Returns:
        the timm model (its forward gives logits ``[B, num_classes]``).

    Raises:
        HarnessError: invalid options, or pretrained weights that cannot be had.
    """
    raise_problems("timm", check_timm(options))
    opts = {k: v for k, v in options.items() if k not in ("plugin", "crop_pct")}  # crop_pct: preprocessing only
    arch, weights = opts.pop("arch"), opts.pop("weights", None)
    pretrained = opts.pop("pretrained", False)
    if "img_size" in opts and isinstance(opts["img_size"], list):
        opts["img_size"] = tuple(opts["img_size"])
    if pretrained and arch == LITE0_ARCH:
        model = build(arch, num_classes=num_classes, **opts)
        load_lite0(model, num_classes)
        return model
    model = build(arch, pretrained=pretrained, num_classes=num_classes, **opts)
    if pretrained:
        if getattr(model, "pretrained_cfg", {}).get("num_classes") != num_classes:
            zero_classifier(model)  # timm gave it a new head: start it at zero like any other new head
    elif weights:
        load_weights(model, weights)
    return model


def create_convnext_attention(num_classes: int, **options: Any) -> nn.Module:
    """A ConvNeXt with attention pooling (see :mod:`harness_timm.attention`).

    Args:
        num_classes: number of classes.
        **options: ``arch`` ("convnext_atto"), ``heads`` (8), ``dropout`` (0.0),
            ``pretrained`` (false), ``weights`` (none): see the package docstring.

    Returns:
        a :class:`harness_timm.attention.ConvNeXtAttention`; its forward gives
        ``{"logits": [B, K], "maps": {"attention": [B, h, w]}}``.

    Raises:
        HarnessError: invalid options, or pretrained weights that cannot be had.
    """
    raise_problems("convnext-attention", check_attention(options))
    opts = {**ATTENTION_DEFAULTS, **{k: v for k, v in options.items() if k != "plugin"}}
    from harness_timm.attention import build_attention_model

    model = build_attention_model(num_classes, opts["arch"], opts["heads"], opts["dropout"], opts["pretrained"])
    if opts["pretrained"]:
        zero_classifier(model)  # the pooling head is new on pretrained features
    elif opts["weights"]:
        load_weights(model, opts["weights"])
    return model

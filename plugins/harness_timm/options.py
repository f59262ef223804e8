"""Options of the ``timm`` and ``convnext-attention`` models and their validation.

The checks import timm only to look an architecture name up (and to suggest close
names); they never build a model.
"""

from __future__ import annotations

import difflib
import os
from typing import Any

from harness import HarnessError

TIMM_OPTIONS = ("arch", "pretrained", "weights", "drop_rate", "drop_path_rate", "img_size", "crop_pct")
"""Options of the ``timm`` model plugin."""

ATTENTION_DEFAULTS: dict[str, Any] = {
    "arch": "convnext_atto",
    "heads": 8,
    "dropout": 0.0,
    "pretrained": False,
    "weights": None,
    "crop_pct": None,
}
"""Options of the ``convnext-attention`` model plugin and their defaults."""

Problems = list[tuple[str, str]]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unknown(options: dict[str, Any], allowed: tuple[str, ...], plugin: str) -> Problems:
    problems = []
    for key in options:
        if key == "plugin" or key in allowed:
            continue
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        problems.append((key, f"unknown option of model plugin {plugin!r}.{hint} Allowed: {', '.join(allowed)}"))
    return problems


def _check_arch(arch: Any, family: str = "") -> Problems:
    """The architecture name is a timm model (of ``family``, when given)."""
    example = f"{family}_atto" if family else "convnext_atto"
    if not isinstance(arch, str) or not arch:
        return [("arch", f"is required: a timm architecture name such as \"{example}\"")]
    import timm

    if not timm.is_model(arch):
        names = timm.list_models(f"{family}*") if family else timm.list_models()
        close = difflib.get_close_matches(arch, names, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        return [("arch", f"{arch!r} is not a timm architecture.{hint}")]
    if family and not arch.startswith(family):
        return [("arch", f"must be a {family} architecture (e.g. \"{example}\", \"{family}_tiny\"), got {arch!r}")]
    return []


def _check_source(options: dict[str, Any]) -> Problems:
    """``pretrained`` is a bool, ``weights`` an existing file, and not both at once."""
    problems = []
    pretrained = options.get("pretrained", False)
    if not isinstance(pretrained, bool):
        problems.append(("pretrained", f"must be true or false, got {pretrained!r}"))
    weights = options.get("weights")
    if weights is not None and not (isinstance(weights, str) and os.path.isfile(weights)):
        problems.append(("weights", f"must be the path of a local weights file; {weights!r} does not exist"))
    elif weights is not None and pretrained is True:
        problems.append(("weights", "give either pretrained = true or weights = \"path\", not both"))
    return problems


def _check_rate(options: dict[str, Any], key: str) -> Problems:
    value = options.get(key, 0.0)
    if not (_is_number(value) and 0 <= value < 1):
        return [(key, f"must be a number in [0, 1), got {value!r}")]
    return []


def _check_img_size(value: Any) -> Problems:
    if _is_int(value) and value > 0:
        return []
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) and v > 0 for v in value):
        return []
    return [("img_size", f"must be a positive integer (or a [height, width] pair), got {value!r}")]


def check_crop(options: dict[str, Any]) -> Problems:
    """``crop_pct``, when given, is the fraction of each side kept at evaluation, in (0, 1]."""
    value = options.get("crop_pct")
    if value is None or (_is_number(value) and 0 < value <= 1):
        return []
    return [("crop_pct", f"must be a number in (0, 1] (1 evaluates whole images), got {value!r}")]


def check_timm(options: dict[str, Any]) -> Problems:
    """Validate options of the ``timm`` model plugin.

    Args:
        options: the model block's options (a ``plugin`` key is ignored).

    Returns:
        ``(option_key, message)`` for every problem; empty when all is well.
    """
    problems = _unknown(options, TIMM_OPTIONS, "timm")
    problems += _check_arch(options.get("arch"))
    problems += _check_source(options)
    for key in ("drop_rate", "drop_path_rate"):
        problems += _check_rate(options, key)
    if "img_size" in options:
        problems += _check_img_size(options["img_size"])
    return problems + check_crop(options)


def check_attention(options: dict[str, Any]) -> Problems:
    """Validate options of the ``convnext-attention`` model plugin.

    Args:
        options: the model block's options (a ``plugin`` key is ignored).

    Returns:
        ``(option_key, message)`` for every problem; empty when all is well.
    """
    problems = _unknown(options, tuple(ATTENTION_DEFAULTS), "convnext-attention")
    problems += _check_arch(options.get("arch", ATTENTION_DEFAULTS["arch"]), family="convnext")
    problems += _check_source(options)
    problems += _check_rate(options, "dropout")
    heads = options.get("heads", ATTENTION_DEFAULTS["heads"])
    if not (_is_int(heads) and heads > 0):
        problems.append(("heads", f"must be a positive integer, got {heads!r}"))
    return problems + check_crop(options)


def raise_problems(plugin: str, problems: Problems) -> None:
    """Raise one ``HarnessError`` listing every problem, if there are any."""
    if problems:
        raise HarnessError(f"model {plugin!r}: " + "; ".join(f"{k}: {m}" if k else m for k, m in problems))

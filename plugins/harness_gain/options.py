"""Options of the ``gain-mtl`` model and their validation (no heavy imports)."""

from __future__ import annotations

import difflib
from typing import Any

from harness_gain.strategy import STRATEGIES

DEFAULTS: dict[str, Any] = {
    "backbone": "tf_efficientnetv2_s",
    "strategy": "S5",
    "fpn_channels": 256,
    "hidden": 512,
    "head_channels": 256,
    "dropout": 0.5,
    "freeze_stages": 0,
    "inference_mask": False,
    "focal_gamma": 2.0,
}
"""Every option and its default."""

_POSITIVE_INTS = ("fpn_channels", "hidden", "head_channels")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_strategy(value: Any) -> str | None:
    if value in STRATEGIES:
        return None
    close = difflib.get_close_matches(str(value).upper(), STRATEGIES, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown strategy {value!r}.{hint} Expected one of {', '.join(STRATEGIES)}"


def _check_value(key: str, value: Any) -> str | None:
    """The problem with one known option's value, or None."""
    if key == "strategy":
        return _check_strategy(value)
    if key == "backbone" and not (isinstance(value, str) and value):
        return "must be a timm model name, e.g. 'efficientnet_b0'"
    if key in _POSITIVE_INTS and not (_is_int(value) and value > 0):
        return f"must be a positive integer, got {value!r}"
    if key == "freeze_stages" and not (_is_int(value) and value >= 0):
        return f"must be an integer >= 0, got {value!r}"
    if key == "dropout" and not (_is_number(value) and 0 <= value < 1):
        return f"must be a number in [0, 1), got {value!r}"
    if key == "focal_gamma" and not (_is_number(value) and value >= 0):
        return f"must be a number >= 0, got {value!r}"
    if key == "inference_mask" and not isinstance(value, bool):
        return f"must be true or false, got {value!r}"
    return None


def check_options(options: dict[str, Any]) -> list[tuple[str, str]]:
    """Validate ``gain-mtl`` options without importing torch.

    Args:
        options: the model block's options (a ``plugin`` key is ignored).

    Returns:
        ``(option_key, message)`` for every problem; empty when all is well.
    """
    problems: list[tuple[str, str]] = []
    for key, value in options.items():
        if key == "plugin":
            continue
        if key not in DEFAULTS:
            close = difflib.get_close_matches(key, list(DEFAULTS), n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            problems.append((key, f"unknown option for gain-mtl.{hint} Known: {', '.join(sorted(DEFAULTS))}"))
            continue
        message = _check_value(key, value)
        if message:
            problems.append((key, message))
    return problems


def resolve_options(options: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``options`` (without ``plugin``); assumes they were checked."""
    return {**DEFAULTS, **{k: v for k, v in options.items() if k != "plugin"}}

"""How numbers read on the page and in the terminal (one place, so both agree)."""

from __future__ import annotations

import math
from typing import Any

DASH = "–"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_metric(value: Any, name: str = "") -> str:
    """A metric value: 4 decimals, 1 for timings and values of 100 or more, a dash if missing."""
    if _missing(value):
        return DASH
    value = float(value)
    if name.endswith("seconds") or abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.4f}"


def format_mean_std(mean: Any, std: Any, name: str = "") -> str:
    """``mean ± std``; just the mean when the std is undefined (a single seed)."""
    if _missing(mean) or _missing(std):
        return format_metric(mean, name)
    return f"{format_metric(mean, name)} ± {format_metric(std, name)}"


def format_count(value: Any) -> str:
    """A count such as a support: an integer when it is one (a mean over seeds may not be)."""
    if _missing(value):
        return DASH
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.1f}"

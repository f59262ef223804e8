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


def format_interval(low: Any, high: Any, name: str = "") -> str:
    """``[low, high]`` in the metric's format; empty when there is no interval."""
    if _missing(low) or _missing(high):
        return ""
    return f"[{format_metric(low, name)}, {format_metric(high, name)}]"


def format_delta(value: Any, name: str = "") -> str:
    """A signed difference: ``+0.0123`` or ``−0.0123`` (a true minus sign)."""
    if _missing(value):
        return DASH
    text = format_metric(abs(float(value)), name)
    return ("−" if float(value) < 0 else "+") + text


def format_p(value: Any) -> str:
    """A p-value: three decimals, two significant digits in scientific notation below 0.001."""
    if _missing(value):
        return DASH
    value = float(value)
    return f"{value:.1e}" if value < 0.001 else f"{value:.3f}"


_COST_FORMATS = {"gmacs": "{:.3f}", "test.latency_ms": "{:.2f}", "test.latency_iqr_ms": "{:.2f}",
                 "test.latency_unstable": "{:.2f}", "test.images_per_second": "{:.1f}"}


def format_cost(value: Any, name: str = "") -> str:
    """An efficiency number: parameters in k/M, GMACs, ms, images/s or seconds."""
    if _missing(value):
        return DASH
    value = float(value)
    if name == "params":
        for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= size:
                return f"{value / size:.2f} {unit}"
        return f"{value:.0f}"
    if name in _COST_FORMATS:
        return _COST_FORMATS[name].format(value)
    return format_metric(value, name)


def format_seconds(value: Any) -> str:
    """A duration in seconds: three significant digits below 100 s (short runs stay readable)."""
    if _missing(value):
        return DASH
    value = float(value)
    return f"{value:.0f}" if abs(value) >= 100 else f"{float(f'{value:.3g}'):g}"


def format_param(value: Any) -> str:
    """A tuned parameter's value: floats to 4 significant digits, others as written."""
    if _missing(value):
        return DASH
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_sort_key(value: Any) -> str:
    """The number a sortable table orders a cell by; empty (sorted last) when missing."""
    if _missing(value):
        return ""
    return repr(float(value))

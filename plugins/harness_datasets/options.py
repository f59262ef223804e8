"""Option specs and checks shared by the file-based dataset plugins.

A spec maps each option key to ``(default, validator)``; a validator returns None for a
good value and a short message for a bad one. Checks never touch the file system, so
``harness validate`` stays fast and works before the data is copied over.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

from harness import RESIZE_METHODS, HarnessError

Problem = tuple[str, str]
Validator = Callable[[Any], "str | None"]
Spec = Mapping[str, tuple[Any, Validator]]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def ratio(*, low_open: bool = False, high_closed: bool = False) -> Validator:
    """A number in ``[0, 1)``; ``low_open`` excludes 0 and ``high_closed`` includes 1."""
    text = f"a number {'>' if low_open else '>='} 0 and {'<=' if high_closed else '<'} 1"

    def check(value: Any) -> str | None:
        if not _number(value):
            return f"must be {text}, got {value!r}"
        too_low = value <= 0 if low_open else value < 0
        too_high = value > 1 if high_closed else value >= 1
        return f"must be {text}, got {value!r}" if too_low or too_high else None

    return check


def integer(low: int = 0) -> Validator:
    """An int ``>= low`` (not a bool)."""

    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
        return None if ok else f"must be an integer >= {low}, got {value!r}"

    return check


def text(*, optional: bool = False) -> Validator:
    """A non-empty string; ``optional`` also accepts None (unset)."""

    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        return None if isinstance(value, str) and value.strip() else f"must be a non-empty string, got {value!r}"

    return check


def choice(*allowed: str) -> Validator:
    """One of ``allowed``."""

    def check(value: Any) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(map(repr, allowed))}, got {value!r}"

    return check


def names(*, optional: bool = True) -> Validator:
    """A non-empty list of distinct non-empty strings (or None when optional)."""

    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            return f"must be a non-empty list of names, got {value!r}"
        return None if len(set(value)) == len(value) else f"names must be distinct, got {value!r}"

    return check


def flag(value: Any) -> str | None:
    """A TOML boolean."""
    return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


COMMON: dict[str, tuple[Any, Validator]] = {
    "image_size": (64, integer(8)),
    "seed": (0, integer(0)),
    "on_corrupt": ("fail", choice("fail", "skip")),
    "resize": ("bilinear", choice(*RESIZE_METHODS)),
    "workers": (0, integer(0)),
}
"""Options every file-based plugin takes: decode size, split seed, broken files, threads."""


def check_spec(plugin: str, options: Mapping[str, Any], spec: Spec, required: tuple[str, ...] = ()) -> list[Problem]:
    """Unknown keys (with a suggestion), missing required keys and bad values.

    Args:
        plugin: the dataset name, for messages.
        options: the options as written (``image_size`` included).
        spec: the plugin's options, :data:`COMMON` included.
        required: keys that have no default.
    """
    problems: list[Problem] = []
    allowed = sorted(spec)
    for key in options:
        if key == "plugin":
            continue
        if key not in spec:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            problems.append((key, f"unknown option of dataset {plugin!r}.{hint} Allowed: {', '.join(allowed)}"))
    for key in required:
        if options.get(key) is None:
            problems.append((key, f"is required by dataset {plugin!r}"))
    for key, value in options.items():
        if key in spec and not (value is None and key in required):
            message = spec[key][1](value)
            if message:
                problems.append((key, message))
    return problems


def resolve(options: Mapping[str, Any], spec: Spec, problems: list[Problem]) -> dict[str, Any]:
    """Options with defaults filled in; raises one HarnessError listing every problem."""
    if problems:
        raise HarnessError("; ".join(f"{k}: {m}" if k else m for k, m in problems))
    return {**{k: default for k, (default, _) in spec.items()}, **{k: v for k, v in options.items() if k != "plugin"}}

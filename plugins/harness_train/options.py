"""Option validation shared by the loss, optimizer and scheduler plugins.

A *spec* maps each option key to a validator: a function that returns ``None`` for a
good value and a short message for a bad one. :func:`check_options` turns a spec into
the ``(key, message)`` problems a registry ``check`` reports. None of this imports
torch, so ``harness validate`` stays fast.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

from harness import HarnessError

Problem = tuple[str, str]
Validator = Callable[[Any], "str | None"]
Spec = Mapping[str, Validator]

# The experiment file names the plugin with this key; hosts may leave it in the options.
_IGNORED = frozenset({"name"})


def _is_number(value: Any) -> bool:
    # bool is an int subclass, but ``lr = true`` is a typo, not a number.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bounds_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    return " and ".join(parts)


def number(
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> Validator:
    """A validator for a finite number (or integer) within optional bounds.

    Args:
        low: smallest allowed value, or None for no lower bound.
        high: largest allowed value, or None for no upper bound.
        low_open: exclude ``low`` itself.
        high_open: exclude ``high`` itself.
        integer: accept only ints.

    Returns:
        The validator.
    """
    what = "an integer" if integer else "a number"
    bounds = _bounds_text(low, high, low_open, high_open)
    expected = f"{what} {bounds}".strip()

    def validate(value: Any) -> str | None:
        if not _is_number(value) or (integer and not isinstance(value, int)):
            return f"must be {expected}, got {value!r}"
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        return f"must be {expected}, got {value!r}" if too_low or too_high else None

    return validate


def boolean() -> Validator:
    """A validator for ``true`` / ``false``."""

    def validate(value: Any) -> str | None:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"

    return validate


def choice(*allowed: str) -> Validator:
    """A validator for one of a few strings."""

    def validate(value: Any) -> str | None:
        if value in allowed:
            return None
        return f"must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}"

    return validate


def numbers(item: Validator, *, length: int | None = None) -> Validator:
    """A validator for a list of numbers, each checked by ``item``.

    Args:
        item: validator applied to every element.
        length: required length, or None for any non-empty length.

    Returns:
        The validator.
    """

    def validate(value: Any) -> str | None:
        if not isinstance(value, list | tuple) or not value:
            return f"must be a non-empty list of numbers, got {value!r}"
        if length is not None and len(value) != length:
            return f"must be a list of {length} numbers, got {len(value)}"
        for i, element in enumerate(value):
            problem = item(element)
            if problem:
                return f"item {i} {problem}"
        return None

    return validate


def either(*validators: Validator, expected: str) -> Validator:
    """A validator passing when any of ``validators`` passes.

    Args:
        validators: the alternatives.
        expected: what to say when none passes, e.g. ``"a number or a list of numbers"``.

    Returns:
        The validator.
    """

    def validate(value: Any) -> str | None:
        if any(v(value) is None for v in validators):
            return None
        return f"must be {expected}, got {value!r}"

    return validate


def check_options(options: Mapping[str, Any], spec: Spec, *, what: str) -> list[Problem]:
    """Problems with ``options``: unknown keys (with suggestions) and bad values.

    Args:
        options: the option table from the experiment file.
        spec: key to validator; a value of None is always accepted (Python callers).
        what: e.g. ``"loss 'focal'"``, used in messages.

    Returns:
        One ``(key, message)`` per problem, in the order of ``options``.
    """
    problems: list[Problem] = []
    for key, value in options.items():
        if key in _IGNORED:
            continue
        if key not in spec:
            problems.append((key, _unknown_message(key, spec, what)))
            continue
        message = None if value is None else spec[key](value)
        if message:
            problems.append((key, message))
    return problems


def _unknown_message(key: str, spec: Spec, what: str) -> str:
    close = difflib.get_close_matches(key, list(spec), n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    known = ", ".join(sorted(spec)) or "(none)"
    return f"unknown option {key!r} for {what}.{hint} Known options: {known}"


def raise_problems(problems: list[Problem], *, what: str) -> None:
    """Raise one :class:`HarnessError` listing every problem, if there are any.

    Args:
        problems: as returned by a ``check``.
        what: e.g. ``"scheduler 'cosine'"``.

    Raises:
        HarnessError: when ``problems`` is not empty.
    """
    if problems:
        lines = "; ".join(f"{key}: {message}" if key else message for key, message in problems)
        raise HarnessError(f"bad options for {what}: {lines}")

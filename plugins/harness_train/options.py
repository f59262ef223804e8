"""Option declarations shared by the loss, optimizer and scheduler plugins, on :mod:`harness.options`.

A *spec* maps each option key to an :class:`harness.options.Option`; :func:`check_options`
checks a table against it in the harness's one wording. The helpers below only name the
bounds these plugins use. None of this imports torch, so ``harness validate`` stays fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from harness import HarnessError
from harness import options as opt

Problem = opt.Problem
Spec = Mapping[str, opt.Option]

# The experiment file names the plugin with this key; hosts may leave it in the options.
_IGNORED = frozenset({"name"})


def number(*, low: float | None = None, high: float | None = None, low_open: bool = False, high_open: bool = False,
           integer: bool = False) -> opt.Option:
    """A finite number (or integer) within optional bounds.

    Args:
        low: smallest allowed value, or None for no lower bound.
        high: largest allowed value, or None for no upper bound.
        low_open: exclude ``low`` itself.
        high_open: exclude ``high`` itself.
        integer: accept only ints.
    """
    make = opt.Int if integer else opt.Float
    return make(min=None if low_open else low, gt=low if low_open else None,
                max=None if high_open else high, lt=high if high_open else None)


def boolean() -> opt.Option:
    """``true`` / ``false``."""
    return opt.Bool()


def choice(*allowed: str) -> opt.Option:
    """One of a few strings."""
    return opt.Choice(*allowed)


def numbers(item: opt.Option, *, length: int | None = None) -> opt.Option:
    """A non-empty list whose items each satisfy ``item``; exactly ``length`` long if given."""
    return opt.List(item, min_items=length or 1, max_items=length)


def either(*options: opt.Option, expected: str) -> opt.Option:
    """A value any one of ``options`` accepts; ``expected`` says what that is."""

    def rule(value: Any) -> str | None:
        return None if any(o.problem(value) is None for o in options) else f"must be {expected}, got {value!r}"

    return opt.Any_(rule=rule)


def check_options(options: Mapping[str, Any], spec: Spec, *, what: str) -> list[Problem]:
    """Problems with ``options``: unknown keys (with suggestions) and bad values.

    Args:
        options: the option table from the experiment file (``name`` is ignored).
        spec: key to option; a value of None is always accepted (Python callers).
        what: e.g. ``"loss 'focal'"``, used in messages.

    Returns:
        One :class:`harness.Problem` per problem.
    """
    block = opt.Options(what, **{key: dataclasses.replace(option, nullable=True) for key, option in spec.items()})
    return block.check({k: v for k, v in options.items() if k not in _IGNORED})


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

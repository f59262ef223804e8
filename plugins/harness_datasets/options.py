"""Option specs and checks shared by the file-based dataset plugins, on :mod:`harness.options`.

A spec maps each option key to ``(default, option)``, the option an
:class:`harness.options.Option`; :func:`check_spec` turns a spec into a
:class:`harness.options.Options` block, so every dataset speaks the one wording of
the harness. Checks never touch the file system, so ``harness validate`` stays fast and
works before the data is copied over.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from harness import RESIZE_METHODS, HarnessError
from harness import options as opt

Problem = opt.Problem
Spec = Mapping[str, tuple[Any, opt.Option]]


def ratio(*, low_open: bool = False, high_closed: bool = False) -> opt.Option:
    """A number in ``[0, 1)``; ``low_open`` excludes 0 and ``high_closed`` includes 1."""
    return opt.Float(min=None if low_open else 0, gt=0 if low_open else None,
                     max=1 if high_closed else None, lt=None if high_closed else 1)


def integer(low: int = 0) -> opt.Option:
    """An int ``>= low`` (not a bool)."""
    return opt.Int(min=low)


def _non_empty(value: str) -> str | None:
    return None if value.strip() else f"must be a non-empty string, got {value!r}"


def text(*, optional: bool = False) -> opt.Option:
    """A non-empty string; ``optional`` also accepts None (unset)."""
    return opt.Str(nullable=optional, rule=_non_empty)


def choice(*allowed: str) -> opt.Option:
    """One of ``allowed``."""
    return opt.Choice(*allowed)


def _distinct(value: list[str]) -> str | None:
    return None if len(set(value)) == len(value) else f"names must be distinct, got {value!r}"


def names(*, optional: bool = True) -> opt.Option:
    """A non-empty list of distinct non-empty strings (or None when optional)."""
    return opt.List(opt.Str(rule=_non_empty), min_items=1, nullable=optional, rule=_distinct)


flag = opt.Bool()
"""A TOML boolean."""

COMMON: dict[str, tuple[Any, opt.Option]] = {
    "image_size": (64, integer(8)),
    "seed": (0, integer(0)),
    "on_corrupt": ("fail", choice("fail", "skip")),
    "resize": ("bilinear", choice(*RESIZE_METHODS)),
    "workers": (0, integer(0)),
}
"""Options every file-based plugin takes: decode size, split seed, broken files, threads."""


def options_of(plugin: str, spec: Spec, required: tuple[str, ...] = ()) -> opt.Options:
    """The :class:`harness.options.Options` of a spec, ``required`` keys without default."""
    declared = {key: dataclasses.replace(option, default=opt.REQUIRED if key in required else default)
                for key, (default, option) in spec.items()}
    return opt.Options(f"dataset {plugin!r}", **declared)


def check_spec(plugin: str, options: Mapping[str, Any], spec: Spec, required: tuple[str, ...] = ()) -> list[Problem]:
    """Unknown keys (with a suggestion), missing required keys and bad values.

    Args:
        plugin: the dataset name, for messages.
        options: the options as written (``image_size`` included); ``plugin`` is ignored
            and a required key set to None counts as missing.
        spec: the plugin's options, :data:`COMMON` included.
        required: keys that have no default.
    """
    given = {k: v for k, v in options.items() if k != "plugin" and not (v is None and k in required)}
    return options_of(plugin, spec, required).check(given)


def resolve(options: Mapping[str, Any], spec: Spec, problems: list[Problem]) -> dict[str, Any]:
    """Options with defaults filled in; raises one HarnessError listing every problem."""
    if problems:
        raise HarnessError("; ".join(f"{k}: {m}" if k else m for k, m in problems))
    return {**{k: default for k, (default, _) in spec.items()}, **{k: v for k, v in options.items() if k != "plugin"}}

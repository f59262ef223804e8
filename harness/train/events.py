"""What a running cell tells the lifecycle hooks, without knowing the plugin manager.

The runner passes ``events(name, **kwargs)``, which calls ``harness_<name>(cell=..., **kwargs)``;
the training code calls it at ``fit_start``, ``fit_end``, ``validation_start`` and
``validation_end`` (see :mod:`harness.hookspecs`). Without a runner nothing listens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Events = Callable[..., None]


def no_events(name: str, **kwargs: Any) -> None:
    """The listener of a cell run outside a matrix (tuning trials, tests)."""

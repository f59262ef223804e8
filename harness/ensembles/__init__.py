"""Ensembles computed from the run store: members' stored probabilities in, a row out.

An ensemble method is a plugin (``harness_register_ensembles``) registering a subclass
of :class:`harness.Ensemble` (:mod:`harness.ensembles.types`); :func:`build_ensembles`
fits each ``[[ensemble]]`` block on validation or out-of-fold predictions and writes a
derived row folder. The engine loads on first use, so importing the type stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_ensembles"]


def __getattr__(name: str) -> Any:
    if name == "build_ensembles":
        from harness.ensembles.engine import build_ensembles

        return build_ensembles
    raise AttributeError(f"module 'harness.ensembles' has no attribute {name!r}")

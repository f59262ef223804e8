"""Ensembles computed from the run store: members' stored probabilities in, a row out.

An ensemble method is a plugin (``harness_register_ensembles``) following
:class:`harness.Ensemble`; :func:`build_ensembles` fits each ``[[ensemble]]`` block on
validation or out-of-fold predictions and writes a derived row folder.
"""

from __future__ import annotations

from harness.ensembles.engine import build_ensembles

__all__ = ["build_ensembles"]

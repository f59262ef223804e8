"""Rows built from stored predictions after the cells: ensembles, then TTA rows.

Nothing here runs a model: ensembles combine the members' stored validation and test
probabilities (:mod:`harness.ensembles`), TTA rows merge the per-view probabilities stored
as ``tta_<split>.npz`` (:mod:`harness.tta`). Both write folders in the run-store layout
(:mod:`harness.derived_folders`), so the leaderboard ranks them beside single models.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.ensembles.engine import build_ensembles
from harness.tta.rows import build_tta_rows

if TYPE_CHECKING:
    from harness.config import Experiment
    from harness.matrix import Cell


def build_derived(run_root: Path, cells: list[Cell], experiment: Experiment, registries: dict[str, Any], *,
                  echo: Callable[[str], None] | None = None) -> list[str]:
    """Every ensemble and TTA row of ``experiment``; finished ones are reused.

    Returns:
        The derived folder names (done or failed) that belong to this matrix.
    """
    ids = build_ensembles(run_root, cells, experiment.ensembles, registries, echo=echo)
    return ids + build_tta_rows(run_root, cells, experiment.tta, registries, select_by=experiment.select_by,
                                echo=echo)

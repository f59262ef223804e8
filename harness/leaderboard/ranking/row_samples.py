"""Every row's stored predictions on one split, for the decision tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.leaderboard.board import Leaderboard
    from harness.leaderboard.ranking.samples import PredictionStore
    from harness.stats.samples import SampleSet
    from harness.store import Run


def row_split_samples(leaderboard: Leaderboard, run: Run, store: PredictionStore, split: str) -> dict[str, SampleSet]:
    """Each row's stored predictions on ``split`` (rows without any left out)."""
    out = {}
    for row, detail in leaderboard.details.items():
        cells = [run.cells[c] for c in detail.cells if c in run.cells]
        try:
            found = store.row_samples(row, cells, split) if cells else None
        except HarnessError:
            found = None
        if found is not None:
            out[row] = found
    return out

"""Per-sample predictions from the run store, each file read once per leaderboard build."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from harness.errors import HarnessError
from harness.stats.calibration import calibration_metrics
from harness.stats.samples import SampleSet, stack_seeds

if TYPE_CHECKING:
    import pandas as pd

    from harness.store import CellRecord, Run

SPLITS = ("val", "test")


class PredictionStore:
    """Memoised access to a run's stored predictions.

    Args:
        run: the stored run.
    """

    def __init__(self, run: Run):
        self.run = run
        self._frames: dict[tuple[str, str], pd.DataFrame | None] = {}

    def frame(self, cell: CellRecord, split: str) -> pd.DataFrame | None:
        """The cell's ``predictions_<split>.csv``, or None when it stored none."""
        key = (cell.id, split)
        if key not in self._frames:
            exists = (cell.path / f"predictions_{split}.csv").exists()
            self._frames[key] = self.run.predictions(cell.id, split) if exists else None
        return self._frames[key]

    def arrays(self, cell: CellRecord, split: str) -> tuple[list[str], np.ndarray, np.ndarray] | None:
        """``(sample_ids, labels [N], proba [N, K])`` of a cell, or None."""
        frame = self.frame(cell, split)
        if frame is None:
            return None
        missing = [f"prob_{c}" for c in cell.classes if f"prob_{c}" not in frame.columns]
        if missing:
            raise HarnessError(f"{cell.path}/predictions_{split}.csv: no column {', '.join(missing)}")
        proba = frame[[f"prob_{c}" for c in cell.classes]].to_numpy(dtype=np.float64)
        return [str(s) for s in frame["sample_id"]], frame["label"].to_numpy(dtype=np.int64), proba

    def calibration(self, cell: CellRecord) -> dict[str, float]:
        """``<split>.ece``, ``<split>.brier`` (...) of every split the cell stored."""
        out: dict[str, float] = {}
        for split in SPLITS:
            arrays = self.arrays(cell, split) if cell.classes else None
            if arrays is not None and len(arrays[1]):
                out |= {f"{split}.{k}": v for k, v in calibration_metrics(arrays[1], arrays[2]).items()}
        return out

    def row_samples(self, row: str, cells: Sequence[CellRecord], split: str) -> SampleSet | None:
        """The row's predictions on ``split``, seeds stacked; None if no seed stored any.

        Raises:
            HarnessError: the seeds were evaluated on different samples.
        """
        seeds = []
        for cell in cells:
            arrays = self.arrays(cell, split)
            if arrays is not None:
                seeds.append((cell.config.get("seed", cell.id), *arrays))
        if not seeds:
            return None
        return stack_seeds(cells[0].classes, seeds, f"row {row!r}, {split} predictions")

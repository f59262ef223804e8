"""Per-view probabilities in the run store: ``tta_<split>.npz``.

The file holds ``views`` (names), ``proba`` ``[V, N, K]``, ``sample_ids`` and ``seconds``
(wall time of the batched inference).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness.store import atomic_save_npz


@dataclass(frozen=True)
class TTAViews:
    """Stored per-view probabilities of one split."""

    views: tuple[str, ...]
    proba: np.ndarray  # [V, N, K]
    sample_ids: tuple[str, ...]
    seconds: float = float("nan")

    def select(self, names: list[str] | tuple[str, ...]) -> np.ndarray:
        """``[len(names), N, K]`` probabilities of the named views."""
        missing = [n for n in names if n not in self.views]
        if missing:
            raise HarnessError(f"views {missing} were not stored (stored: {', '.join(self.views)}); "
                               "rerun the cells with --fresh to store them")
        return self.proba[[self.views.index(n) for n in names]]


def tta_path(cell_dir: Path, split: str) -> Path:
    return Path(cell_dir) / f"tta_{split}.npz"


def save_tta(cell_dir: Path, split: str, views: list[str], proba: np.ndarray, sample_ids: tuple[str, ...],
             seconds: float = float("nan")) -> None:
    """Write ``tta_<split>.npz`` atomically."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape[:2] != (len(views), len(sample_ids)):
        raise HarnessError(f"TTA probabilities of shape {proba.shape} do not fit {len(views)} views x "
                           f"{len(sample_ids)} samples")
    atomic_save_npz(tta_path(cell_dir, split), views=np.asarray(views), proba=proba,
                    sample_ids=np.asarray(sample_ids), seconds=np.float64(seconds))


def load_tta(cell_dir: Path, split: str) -> TTAViews:
    """Read ``tta_<split>.npz``; a missing file is a :class:`HarnessError`."""
    path = tta_path(cell_dir, split)
    if not path.exists():
        raise HarnessError(f"{path}: no stored TTA predictions for split {split!r}")
    with np.load(path, allow_pickle=False) as data:
        seconds = float(data["seconds"]) if "seconds" in data.files else float("nan")
        return TTAViews(tuple(str(v) for v in data["views"]), data["proba"].astype(np.float64),
                        tuple(str(s) for s in data["sample_ids"]), seconds)

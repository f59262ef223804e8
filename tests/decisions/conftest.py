"""Runs written straight into a run store: cells with val and test predictions, metadata and metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness import PredictionSet
from harness.metrics import classification_metrics
from harness.sample_meta import write_sample_meta
from harness.store import atomic_save_npz, atomic_write_json, write_predictions

CLASSES = ("normal", "defect")


def probabilities(labels: np.ndarray, skill: float, rng: np.random.Generator, k: int = 2) -> np.ndarray:
    """Softmax of noisy logits with ``skill`` added to the true class."""
    logits = rng.normal(0, 1, (len(labels), k))
    logits[np.arange(len(labels)), labels] += skill
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def write_cell(root: Path, row: str, seed: int, model: dict[str, Any], splits: dict[str, tuple], *,
               classes=CLASSES, thumbs: dict[str, np.ndarray] | None = None) -> Path:
    """One finished cell; ``splits``: split to ``(ids, labels, proba, meta or None)``."""
    cell = root / f"{row.replace(' ', '_').replace('=', '-')}-s{seed}"
    atomic_write_json(cell / "config.json", {"classes": list(classes), "row": row, "seed": seed, "model": model,
                                             "train": {"epochs": 1}, "dataset": {"plugin": "written"}})
    metrics: dict[str, float] = {}
    for split, (ids, labels, proba, meta) in splits.items():
        write_predictions(cell, split, PredictionSet(classes, tuple(ids), labels, proba))
        write_sample_meta(cell, split, ids, meta)
        metrics |= {f"{split}.{k}": v for k, v in classification_metrics(labels, proba, classes).items()}
    atomic_write_json(cell / "metrics.json", metrics)
    if thumbs:
        atomic_save_npz(cell / "thumbs_test.npz", sample_ids=np.array(list(thumbs)), images=np.stack(list(thumbs.values())))
    atomic_write_json(cell / "status.json", {"status": "done"})
    return cell


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)

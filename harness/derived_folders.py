"""Derived cell folders (ensembles, TTA rows) in exactly the run-store layout.

``config.json`` goes first, then predictions, ``metrics.json`` and any extra JSON
(``analysis.json``), and ``status.json`` last, every file atomically, so a derived
folder is done only when it says so, like a trained cell.
"""

from __future__ import annotations

import hashlib
import math
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.predictions import PredictionSet
from harness.store import STATUS, atomic_write_json, read_cell, reset_cell_dir, write_predictions

MetricFn = Callable[[PredictionSet], dict[str, float]]


def metric_fns(registries: dict[str, Any]) -> list[MetricFn]:
    """Every registered metric family, as the training loop uses them."""
    return [entry.factory for entry in registries["metrics"]]


def split_metrics(pred: PredictionSet, fns: list[MetricFn], split: str) -> dict[str, float]:
    """Every metric family on ``pred``, keys prefixed ``<split>.`` as for trained cells.

    (Same as ``harness.train.evaluate.compute_metrics``, without importing torch.)
    """
    return {f"{split}.{key}": float(value) for fn in fns for key, value in fn(pred).items()}


def stamp(folder: Path, names: tuple[str, ...]) -> str:
    """A hash of the named files' bytes (missing files count as empty).

    Part of a derived folder's key, so a member cell re-run under the same cell key but
    with different predictions is never silently reused.
    """
    h = hashlib.sha256()
    for name in names:
        path = folder / name
        h.update(name.encode())
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()[:16]


def reusable(folder: Path, key: str) -> bool:
    """Whether ``folder`` already holds a finished result for ``key``."""
    cell = read_cell(folder)
    return cell.status == "done" and cell.config.get("key") == key


def start(folder: Path, config: dict[str, Any]) -> None:
    """Clear whatever an earlier attempt left and write ``config.json``."""
    reset_cell_dir(folder)
    folder.mkdir(parents=True)
    atomic_write_json(folder / "config.json", config)


def finish(folder: Path, config: dict[str, Any], predictions: dict[str, PredictionSet], metrics: dict[str, float],
           extra: dict[str, Any] | None = None) -> None:
    """Write the final config, predictions, metrics and extra JSON files, then ``status.json``."""
    atomic_write_json(folder / "config.json", config)
    for split, pred in predictions.items():
        write_predictions(folder, split, pred)
    atomic_write_json(folder / "metrics.json", metrics)
    for name, obj in (extra or {}).items():
        atomic_write_json(folder / name, clean_json(obj))
    atomic_write_json(folder / STATUS, {"status": "done"})


def fail(folder: Path, config: dict[str, Any], exc: BaseException) -> str:
    """Record a failure in ``folder`` and return its reason."""
    if not (folder / "config.json").exists():
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / "config.json", config)
    reason = str(exc) if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
    atomic_write_json(folder / STATUS, {"status": "failed", "reason": reason, "traceback": traceback.format_exc()})
    return reason


def clean_json(obj: Any) -> Any:
    """``obj`` with non-finite floats replaced by None, so the file is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_json(v) for v in obj]
    return obj

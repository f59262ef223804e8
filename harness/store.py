"""The run store: one folder per matrix cell, every file written atomically.

The files' atomic writes, checked reads and integrity checks are in
:mod:`harness.store_files` and importable from here too.

Layout of ``runs/<experiment>/<cell-id>/`` (``status.json`` lands last; a cell is done
only when it says so)::

    config.json               resolved cell config, classes, row key, cell key
    history.json              one dict per epoch (train.loss, val.*, lr, seconds)
    metrics.json              final val.* and test.* metrics, best_epoch, timings
    checkpoint.safetensors    best weights
    predictions_val.csv       sample_id, label, prob_<class>...
    predictions_test.csv
    maps_test.npz             optional: sample_ids, map_<name> [N,h,w], masks, has_mask
    thumbs_test.npz           optional: sample_ids, images [k,h,w,C] uint8 (overlays)
    status.json               {"status": "done" | "failed", "reason", "traceback"}
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.predictions import PredictionSet
from harness.store_files import (
    DamagedFileError,
    StoreWriteError,
    _why,
    atomic_save_npz,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    check_cell_files,
    read_json,
    read_json_checked,
    write_failure,
)

__all__ = [
    "RESUME", "SKIPPED", "STATUS", "CellRecord", "DamagedFileError", "Run", "StoreWriteError", "atomic_save_npz",
    "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "check_cell_files", "load_run",
    "predictions_frame", "read_cell", "read_json", "read_json_checked", "reset_cell_dir", "skipped_note",
    "write_failure", "write_predictions", "write_skipped",
]

STATUS = "status.json"
RESUME = "resume.pt"  # training state after the last finished epoch, until the cell is done
SKIPPED = "skipped.csv"  # files the dataset left out as unreadable (on_corrupt = "skip")


def write_skipped(cell_dir: Path, skipped: tuple[tuple[str, str, str], ...]) -> None:
    """Record the dataset's skipped files as ``skipped.csv`` (split, file, reason)."""
    import csv
    import io

    if not skipped:
        return
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["split", "file", "reason"])
    writer.writerows(skipped)
    atomic_write_text(cell_dir / SKIPPED, buf.getvalue())


def skipped_note(run_root: Path, cell_ids: Any) -> str:
    """``"12 images were left out ..."`` for the cells' datasets, or ``""`` when none were."""
    counts: dict[str, int] = {}
    for cell_id in cell_ids:
        try:
            config = read_json_checked(Path(run_root) / cell_id / "config.json")
        except DamagedFileError:
            continue
        if isinstance(config, dict) and config.get("skipped_images"):
            counts[str(config.get("data_fingerprint", cell_id))] = int(config["skipped_images"])
    total = sum(counts.values())
    if not total:
        return ""
    return (f"{total} image{'s' if total != 1 else ''} could not be read and {'were' if total != 1 else 'was'} "
            f"left out (on_corrupt = \"skip\"); each cell lists them in {SKIPPED}.")


def predictions_frame(pred: PredictionSet):  # -> pandas.DataFrame
    """The stored table: ``sample_id``, ``label``, one ``prob_<class>`` per class (and ``score``)."""
    import pandas as pd

    frame = pd.DataFrame({"sample_id": list(pred.sample_ids), "label": pred.labels.astype(np.int64)})
    for k, name in enumerate(pred.classes):
        frame[f"prob_{name}"] = pred.proba[:, k]
    if pred.scores is not None:
        frame["score"] = np.asarray(pred.scores, dtype=np.float64)
    return frame


def write_predictions(cell_dir: Path, split: str, pred: PredictionSet) -> None:
    """Store ``pred`` as ``predictions_<split>.csv`` (and maps as ``maps_<split>.npz``)."""
    text = predictions_frame(pred).to_csv(index=False, float_format="%.17g")
    atomic_write_text(cell_dir / f"predictions_{split}.csv", text)
    if pred.maps:
        arrays = {f"map_{k}": v.astype(np.float16) for k, v in pred.maps.items()}
        arrays["sample_ids"] = np.asarray(pred.sample_ids)
        if pred.masks is not None:
            arrays["masks"] = pred.masks.astype(np.uint8)
        if pred.has_mask is not None:
            arrays["has_mask"] = pred.has_mask.astype(bool)
        atomic_save_npz(cell_dir / f"maps_{split}.npz", **arrays)


@dataclass(frozen=True)
class CellRecord:
    """What the store holds about one cell.

    Attributes:
        id: folder name.
        path: the folder.
        status: ``"done"``, ``"failed"`` or ``"incomplete"``.
        config: resolved config (``config.json``), empty if missing.
        metrics: final metrics, empty unless done.
        history: per-epoch dicts.
        reason: why it failed, if it did.
    """

    id: str
    path: Path
    status: str
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.config.get("classes", ()))

    @property
    def row(self) -> str:
        """The model configuration this cell belongs to, seed left out."""
        return str(self.config.get("row", self.id))

    @property
    def seed(self) -> Any:
        """The cell's training seed, or None where it has none (an ensemble across seeds)."""
        return self.config.get("seed")


def read_cell(path: Path) -> CellRecord:
    """Read one cell folder, whatever state it is in.

    A damaged folder (a file that does not parse, a truncated checkpoint or table) reads
    as ``incomplete``, with the damaged path in ``reason``, so the cell is redone; this
    never raises for what is inside the folder.
    """
    def maybe(name: str, default: Any) -> Any:
        p = path / name
        if not p.exists():
            return default
        found = read_json_checked(p)
        if not isinstance(found, type(default)):
            raise DamagedFileError(f"{p}: unreadable (holds a {type(found).__name__}, not a {type(default).__name__})")
        return found

    try:
        status = maybe(STATUS, {"status": "incomplete"})
        config = maybe("config.json", {})
        history = maybe("history.json", [])
        done = status.get("status") == "done"
        metrics = maybe("metrics.json", {}) if done else {}
        if done:
            check_cell_files(path)
    except (DamagedFileError, OSError) as exc:
        reason = str(exc) if isinstance(exc, DamagedFileError) else f"{path}: unreadable ({_why(exc)})"
        return CellRecord(id=path.name, path=path, status="incomplete", reason=f"damaged: {reason}")
    return CellRecord(
        id=path.name,
        path=path,
        status=str(status.get("status", "incomplete")),
        config=config,
        metrics=metrics,
        history=history,
        reason=str(status.get("reason", "")),
    )


class Run:
    """The stored results of one experiment: ``load_run("runs/smoke")``.

    Attributes:
        path: the experiment's folder under ``runs/``.
        cells: cell id to :class:`CellRecord`, every cell folder found, in id order.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.is_dir():
            raise HarnessError(f"{self.path}: no such run folder")
        try:
            self.meta: dict[str, Any] = read_json_checked(self.path / "run.json") if (self.path / "run.json").exists() else {}
        except DamagedFileError:  # only descriptive; the cells hold the results
            self.meta = {}
        self.cells: dict[str, CellRecord] = {
            p.name: read_cell(p) for p in sorted(self.path.iterdir()) if p.is_dir() and not p.name.startswith(".")
        }

    def done(self) -> list[CellRecord]:
        return [c for c in self.cells.values() if c.status == "done"]

    def _cell(self, cell_id: str) -> CellRecord:
        if cell_id not in self.cells:
            raise HarnessError(f"{self.path}: no cell {cell_id!r}; cells: {', '.join(self.cells) or '(none)'}")
        return self.cells[cell_id]

    def predictions(self, cell_id: str, split: str = "test"):  # -> pandas.DataFrame
        """Per-sample predictions: ``sample_id``, ``label``, ``prob_<class>`` columns."""
        import pandas as pd

        path = self._cell(cell_id).path / f"predictions_{split}.csv"
        if not path.exists():
            raise HarnessError(f"{path}: no stored predictions for split {split!r}")
        try:
            return pd.read_csv(path, dtype={"sample_id": str})
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DamagedFileError(f"{path}: unreadable ({_why(exc)})") from None

    def prediction_set(self, cell_id: str, split: str = "test") -> PredictionSet:
        """The stored predictions with maps and masks, ready for metric functions."""
        cell = self._cell(cell_id)
        frame = self.predictions(cell_id, split)
        classes = cell.classes
        proba = frame[[f"prob_{c}" for c in classes]].to_numpy(dtype=np.float64)
        maps: dict[str, np.ndarray] = {}
        masks = has_mask = None
        npz = cell.path / f"maps_{split}.npz"
        if npz.exists():
            try:
                with np.load(npz, allow_pickle=False) as data:
                    maps = {k[4:]: data[k].astype(np.float32) for k in data.files if k.startswith("map_")}
                    masks = data["masks"] if "masks" in data.files else None
                    has_mask = data["has_mask"] if "has_mask" in data.files else None
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
                raise DamagedFileError(f"{npz}: unreadable ({_why(exc)})") from None
        return PredictionSet(
            classes=classes,
            sample_ids=tuple(frame["sample_id"]),
            labels=frame["label"].to_numpy(dtype=np.int64),
            proba=proba,
            scores=frame["score"].to_numpy(dtype=np.float64) if "score" in frame.columns else None,
            maps=maps,
            masks=masks,
            has_mask=has_mask,
        )


def load_run(path: str | os.PathLike[str]) -> Run:
    """Open a stored experiment run (``runs/<experiment>``) for reading."""
    return Run(path)


def reset_cell_dir(path: Path) -> None:
    """Remove an interrupted or failed cell's folder so it can be redone cleanly."""
    if path.exists():
        shutil.rmtree(path)

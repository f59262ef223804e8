"""Test-time augmentation rows built from the per-view probabilities in the store.

For every finished cell with ``tta_test.npz``, one derived folder per merge,
``tta-<cell-id>-<merge>`` (row ``"<cell row> +tta(<merge>)"``), merges every view of
``[tta] views``. With ``search = true`` a folder ``tta-<cell-id>-search`` also holds the
views and merge chosen on VALIDATION by greedy forward selection from ``identity``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness import derived_folders as folders
from harness.errors import HarnessError
from harness.matrix import Cell, digest
from harness.predictions import PredictionSet
from harness.store import CellRecord, Run, load_run, read_cell
from harness.tta import TTAViews, forwards, load_tta, resolve, tta_path
from harness.tta.search import Search, greedy_search

Echo = Callable[[str], None]
STORED_FILES = ("tta_val.npz", "tta_test.npz", "predictions_val.csv", "predictions_test.csv")


def merges_of(tta: dict[str, Any]) -> list[str]:
    merge = tta.get("merge", "mean")
    return [merge] if isinstance(merge, str) else list(merge)


def build_tta_rows(run_root: Path, cells: list[Cell], tta: dict[str, Any] | None, registries: dict[str, Any], *,
                   select_by: str = "val.accuracy", echo: Echo | None = None) -> list[str]:
    """Build (or reuse) the TTA rows of every finished cell that stored TTA predictions.

    Args:
        run_root: the experiment's run folder.
        cells: the current matrix.
        tta: the validated ``[tta]`` table (``Experiment.tta``), or None.
        registries: the plugin registries (``tta`` and ``metrics`` are used).
        select_by: the validation metric the search maximises (or minimises, for a
            loss); accuracy when it cannot be computed from probabilities alone.
        echo: optional progress printer.

    Returns:
        Folder names of every TTA row, done or failed.
    """
    if not tta:
        return []
    run = load_run(run_root)
    built = []
    for cell in cells:
        record = read_cell(Path(run_root) / cell.id)
        if record.status != "done" or not tta_path(record.path, "test").exists():
            if echo and record.status == "done":
                echo(f"tta {cell.id}: no stored TTA predictions (cell finished before [tta] was set?)")
            continue
        for merge in merges_of(tta):
            built.append(_row(run, record, tta, merge, registries, select_by))
        if tta.get("search"):
            built.append(_row(run, record, tta, None, registries, select_by))
    return built


def _row(run: Run, record: CellRecord, tta: dict[str, Any], merge: str | None, registries: dict[str, Any],
         select_by: str) -> str:
    tag = merge or "search"
    folder_id = f"tta-{record.id}-{tag}"
    key = digest({"cell": record.config.get("key", record.id), "views": tta["views"], "merge": merge or merges_of(tta),
                  "search": merge is None, "select_by": select_by if merge is None else None,
                  "stored": folders.stamp(record.path, STORED_FILES)}, 16)
    folder = run.path / folder_id
    if folders.reusable(folder, key):
        return folder_id
    config = {"id": folder_id, "key": key, "row": f"{record.row} +tta({tag})", "kind": "tta", "seed": record.config.get("seed"),
              "source": record.id, "classes": list(record.classes), "views": list(tta["views"]), "merge": merge}
    folders.start(folder, config)
    try:
        stored = {s: load_tta(record.path, s) for s in ("val", "test") if tta_path(record.path, s).exists()}
        if merge is None:
            found = _search(run, stored, tta, registries, select_by, record)
            config.update(found.report())
            views, merge_name = found.views, found.merge
        else:
            views, merge_name = list(tta["views"]), merge
        _write(run, folder, config, record, stored, views, merge_name, registries)
    except Exception as exc:  # noqa: BLE001 - one failing row is recorded, the others go on
        folders.fail(folder, config, exc)
    return folder_id


def _search(run: Run, stored: dict[str, TTAViews], tta: dict[str, Any], registries: dict[str, Any], select_by: str,
            record: CellRecord) -> Search:
    if "val" not in stored:
        raise HarnessError('the TTA search chooses on validation: add "val" to [tta] splits')
    val = stored["val"]
    labels = _aligned_labels(run, record, "val", val)
    costs = {v: forwards([resolve(v, "view", registries)]) for v in tta["views"]}
    merges = {m: resolve(m, "merge", registries) for m in merges_of(tta)}
    return greedy_search(val, labels, list(tta["views"]), merges, costs, folders.metric_fns(registries),
                         record.classes, select_by)


def _aligned_labels(run: Run, record: CellRecord, split: str, stored: TTAViews) -> np.ndarray:
    frame = run.predictions(record.id, split)
    if tuple(frame["sample_id"]) != stored.sample_ids:
        raise HarnessError(f"{record.id}: TTA {split} predictions are not for the cell's stored {split} samples")
    return frame["label"].to_numpy(dtype=np.int64)


def _write(run: Run, folder: Path, config: dict[str, Any], record: CellRecord, stored: dict[str, TTAViews], views: list[str],
           merge_name: str, registries: dict[str, Any]) -> None:
    merge = resolve(merge_name, "merge", registries)
    built = [resolve(v, "view", registries) for v in views]
    fns = folders.metric_fns(registries)
    predictions, metrics = {}, {}
    for split, tv in stored.items():
        pred = PredictionSet(record.classes, tv.sample_ids, _aligned_labels(run, record, split, tv), merge(tv.select(views)))
        predictions[split] = pred
        metrics.update(folders.split_metrics(pred, fns, split))
    multiplier = forwards(built)
    test = stored["test"]
    all_forwards = forwards([resolve(v, "view", registries) for v in test.views])
    seconds = test.seconds * multiplier / all_forwards
    if not np.isfinite(seconds):
        seconds = record.metrics.get("test.infer_seconds", float("nan")) * multiplier
    metrics.update({"cost_multiplier": multiplier, "cost.infer_seconds": seconds, "test.infer_seconds": seconds})
    config.update({"views": list(views), "merge": merge_name, "cost_multiplier": multiplier,
                   "splits": sorted(stored)})
    folders.finish(folder, config, predictions, metrics)

"""Rows for ensembles whose members were made by training: k-fold models and snapshots.

For each matching cell of the matrix, one derived folder ``ens-<name>-<cell id>``:
the members' test probabilities averaged; for k-fold, the folds' validation predictions
together are out-of-fold predictions over train + val, stored as ``predictions_oof.csv``
(and as the row's validation predictions), which stacking prefers for fitting.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import numpy as np

from harness import derived_folders as folders
from harness.errors import HarnessError
from harness.matrix import Cell, digest, fold_cell
from harness.predictions import PredictionSet
from harness.store import load_run, read_cell

SNAPSHOTS = "snapshots"


def _matching(cells: list[Cell], members: str | list[str]) -> list[Cell]:
    globs = [members] if isinstance(members, str) else list(members)
    return [c for c in cells if any(fnmatch.fnmatchcase(c.row, g) for g in globs)]


def _average(sets: list[PredictionSet]) -> PredictionSet:
    first = sets[0]
    for other in sets[1:]:
        if other.sample_ids != first.sample_ids:
            raise HarnessError("members stored test predictions for different samples")
    return PredictionSet(first.classes, first.sample_ids, first.labels, np.mean([s.proba for s in sets], axis=0))


def _out_of_fold(sets: list[PredictionSet]) -> PredictionSet:
    ids = tuple(i for s in sets for i in s.sample_ids)
    order = np.argsort(np.asarray(ids), kind="stable")
    labels = np.concatenate([s.labels for s in sets])[order]
    proba = np.concatenate([s.proba for s in sets])[order]
    return PredictionSet(sets[0].classes, tuple(ids[i] for i in order), labels, proba)


def _member_sets(run_root: Path, spec: dict[str, Any], source: str, cell: Cell) -> tuple[list[Path], dict[str, list]]:
    """Member folders and their val/test prediction sets, or raise why they are not there."""
    if source == "folds":
        k = int(spec.get("k", 5))
        paths = [run_root / fold_cell(cell, k, i).id for i in range(k)]
        missing = [p.name for p in paths if read_cell(p).status != "done"]
        if missing:
            raise HarnessError(f"fold cells not finished: {', '.join(missing)}")
        run = load_run(run_root)
        return paths, {s: [run.prediction_set(p.name, s) for p in paths] for s in ("val", "test")}
    if read_cell(run_root / cell.id).status != "done":
        raise HarnessError(f"cell {cell.id} is not finished")
    paths = sorted((run_root / cell.id / SNAPSHOTS).glob("epoch_*"))
    if len(paths) < 2:
        raise HarnessError(f"cell {cell.id} stored {len(paths)} snapshot(s); a snapshot ensemble needs 2 or more: "
                           "train with a warm-restart scheduler (its harness.Schedule lists cycle_end_epochs) "
                           "over two cycles or more")
    classes = read_cell(run_root / cell.id).classes
    return paths, {s: [_read(p, s, classes) for p in paths] for s in ("val", "test")}


def _read(folder: Path, split: str, classes: tuple[str, ...]) -> PredictionSet:
    import pandas as pd

    frame = pd.read_csv(folder / f"predictions_{split}.csv", dtype={"sample_id": str})
    return PredictionSet(classes, tuple(frame["sample_id"]), frame["label"].to_numpy(np.int64),
                         frame[[f"prob_{c}" for c in classes]].to_numpy(np.float64))


def build_trained_rows(run_root: Path, cells: list[Cell], spec: dict[str, Any], source: str,
                       registries: dict[str, Any]) -> list[str]:
    """One derived folder per matching cell for a ``kfold`` or ``snapshot`` block."""
    built = []
    for cell in _matching(cells, spec.get("members", "*")):
        folder_id = f"ens-{spec['name']}-{cell.id}".replace(" ", "-").lower()
        folder = run_root / folder_id
        config = {"id": folder_id, "row": f"ensemble {spec['name']}: {cell.row}", "kind": "ensemble",
                  "seed": cell.seed, "plugin": spec["plugin"], "name": spec["name"], "source": source,
                  "options": {k: v for k, v in spec.items() if k not in ("plugin", "name", "members", "across_seeds")},
                  "member_rows": [cell.row]}
        try:
            paths, sets = _member_sets(run_root, spec, source, cell)
        except HarnessError as exc:
            config["key"] = digest({"spec": spec, "cell": cell.key, "missing": str(exc)}, 16)
            if not folders.reusable(folder, config["key"]):
                folders.start(folder, config)
                folders.fail(folder, config, exc)
            built.append(folder_id)
            continue
        config["classes"] = list(sets["test"][0].classes)
        stamps = [folders.stamp(p, ("predictions_val.csv", "predictions_test.csv")) for p in paths]
        config["key"] = digest({"spec": spec, "cell": cell.key, "members": stamps}, 16)
        config["members"] = [p.name for p in paths]
        built.append(folder_id)
        if folders.reusable(folder, config["key"]):
            continue
        folders.start(folder, config)
        try:
            _write(folder, config, source, paths, sets, registries)
        except Exception as exc:  # noqa: BLE001 - one failing ensemble is recorded, the others go on
            folders.fail(folder, config, exc)
    return built


def _write(folder: Path, config: dict[str, Any], source: str, paths: list[Path], sets: dict[str, list],
           registries: dict[str, Any]) -> None:
    test = _average(sets["test"])
    val = _out_of_fold(sets["val"]) if source == "folds" else _average(sets["val"])
    predictions = {"val": val, "test": test}
    if source == "folds":
        predictions["oof"] = val
        config["fit_split"] = "oof"
    fns = folders.metric_fns(registries)
    metrics = {**folders.split_metrics(val, fns, "val"), **folders.split_metrics(test, fns, "test"),
               "n_members": len(paths)}
    if source == "folds":  # each fold model runs on the test set
        infer = [read_cell(p).metrics.get("test.infer_seconds", float("nan")) for p in paths]
        metrics["cost.infer_seconds"] = metrics["test.infer_seconds"] = float(np.sum(infer))
    folders.finish(folder, config, predictions, metrics)


def as_cells(run_root: Path, folder_ids: list[str]) -> list[Cell]:
    """Finished k-fold rows as member candidates for later ensemble blocks."""
    out = []
    for folder_id in folder_ids:
        record = read_cell(run_root / folder_id)
        if record.status == "done":
            out.append(Cell(id=folder_id, key=record.config["key"], row=record.row, seed=record.config["seed"],
                            config={}))
    return out

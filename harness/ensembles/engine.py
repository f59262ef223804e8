"""Ensembles built from the run store: no model is run again.

For each ``[[ensemble]]`` block the engine picks the finished member cells of the
current matrix (one ensemble per seed, or one across seeds), fits the method on the
members' validation (or out-of-fold) probabilities, predicts val and test, and writes a
derived folder ``ens-<name>-s<seed>-<hash8>`` (``-all-`` across seeds) that the
leaderboard ranks beside single models.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness import derived_folders as folders
from harness.config.fields import ENSEMBLE_FIXED
from harness.ensembles.members import MemberData, load_members, member_groups
from harness.ensembles.members import patterns as member_patterns
from harness.ensembles.report import analyse
from harness.ensembles.types import Ensemble, ensemble_class
from harness.errors import HarnessError
from harness.matrix import Cell, digest, slug
from harness.predictions import PredictionSet
from harness.store import Run, atomic_save_npz, load_run, read_cell

Echo = Callable[[str], None]
PREDICTION_FILES = ("predictions_val.csv", "predictions_test.csv", "predictions_oof.csv")
ENSEMBLE_STATE = "ensemble_state.npz"  # a fitted method's get_state() arrays, when it has one


def method_options(spec: dict[str, Any]) -> dict[str, Any]:
    """The options an ``[[ensemble]]`` block passes to its method's factory."""
    return {k: v for k, v in spec.items() if k not in ENSEMBLE_FIXED}


def build_method(registries: dict[str, Any], plugin: str, options: dict[str, Any]) -> Ensemble:
    """An unfitted :class:`harness.Ensemble` from the ``ensembles`` registry."""
    cls = ensemble_class(registries["ensembles"].get(plugin), plugin)
    try:
        return cls(**options)
    except TypeError as exc:
        raise HarnessError(f"ensemble {plugin!r} does not take these options {sorted(options)}: {exc}") from None


def build_ensembles(run_root: Path, cells: list[Cell], specs: tuple[dict[str, Any], ...], registries: dict[str, Any],
                    *, echo: Echo | None = None) -> list[str]:
    """Build (or reuse) every ensemble of an experiment.

    Args:
        run_root: the experiment's run folder (``runs/<experiment>``).
        cells: the current matrix.
        specs: the validated ``[[ensemble]]`` blocks (``Experiment.ensembles``).
        registries: the plugin registries (``ensembles`` and ``metrics`` are used).
        echo: optional progress printer.

    Returns:
        Folder names of every ensemble, done or failed, in spec then seed order.
    """
    run_root = Path(run_root)
    if not specs:
        return []
    built = []
    candidates = list(cells)  # k-fold rows join them, so a later block can stack them on out-of-fold data
    for spec in specs:
        source = ensemble_class(registries["ensembles"].get(spec["plugin"]), spec["plugin"]).source
        if source != "cells":  # members made by training: k-fold models, snapshots
            from harness.ensembles.trained import as_cells, build_trained_rows

            ids = build_trained_rows(run_root, cells, spec, source, registries)
            built += ids
            if source == "folds":
                candidates += as_cells(run_root, ids)
            if echo:
                for folder_id in ids:
                    status = read_cell(run_root / folder_id)
                    echo(f"ensemble {spec['name']} ({folder_id}): {status.status}"
                         + (f": {status.reason}" if status.reason else ""))
            continue
        across = bool(spec.get("across_seeds", False))
        run = load_run(run_root)
        try:
            # k-fold rows join only when named ("ensemble kfold*"): "*" keeps meaning the matrix's rows
            named = [m for m in member_patterns(spec.get("members", "*")) if m.startswith("ensemble")]
            groups = member_groups(candidates if named else cells, spec.get("members", "*"), across)
        except HarnessError as exc:  # the block fails as a whole, in each folder it would have made
            groups = [(seed, exc) for seed in (["all"] if across else dict.fromkeys(c.seed for c in cells))]
        for seed, group in groups:
            folder_id = _build_one(run_root, run, spec, seed, group, registries)
            built.append(folder_id)
            if echo:
                status = read_cell(run_root / folder_id)
                echo(f"ensemble {spec['name']} (seed {seed}): {status.status}"
                     + (f": {status.reason}" if status.reason else ""))
    return built


def _build_one(run_root: Path, run: Run, spec: dict[str, Any], seed: Any, group: list[Cell] | HarnessError,
               registries: dict[str, Any]) -> str:
    done = [] if isinstance(group, HarnessError) else [c for c in group if read_cell(run_root / c.id).status == "done"]
    stamps = [folders.stamp(run_root / c.id, PREDICTION_FILES) for c in done]
    key = digest({"spec": spec, "members": [c.key for c in done], "predictions": stamps}, 16)
    folder_id = f"ens-{slug(str(spec['name']))}-{'all' if seed == 'all' else f's{seed}'}-{key[:8]}"
    folder = run_root / folder_id
    if folders.reusable(folder, key):
        return folder_id
    config = {"id": folder_id, "key": key, "row": f"ensemble {spec['name']}", "kind": "ensemble", "seed": seed,
              "plugin": spec["plugin"], "name": spec["name"], "options": method_options(spec),
              "members": [c.id for c in done], "member_rows": [c.row for c in done],
              "across_seeds": bool(spec.get("across_seeds", False))}
    folders.start(folder, config)
    try:
        if isinstance(group, HarnessError):
            raise group
        _require_members(group, done)
        records = [read_cell(run_root / c.id) for c in done]
        config["classes"] = list(records[0].classes)
        _fit_and_write(folder, config, load_members(run, records), spec, registries)
    except Exception as exc:  # noqa: BLE001 - one failing ensemble is recorded, the others go on
        folders.fail(folder, config, exc)
    return folder_id


def _require_members(group: list[Cell], done: list[Cell]) -> None:
    if len(done) >= 2:
        return
    missing = [c.id for c in group if c not in done]
    raise HarnessError(f"an ensemble needs at least 2 finished member cells, found {len(done)}"
                       + (f"; not finished: {', '.join(missing)}" if missing else ""))


def _fit_and_write(folder: Path, config: dict[str, Any], data: MemberData, spec: dict[str, Any],
                   registries: dict[str, Any]) -> None:
    options = method_options(spec)
    fit = data.fit_split
    method = build_method(registries, spec["plugin"], options).fit(data.proba[fit], data.labels[fit])
    fns = folders.metric_fns(registries)
    predictions, metrics = {}, {}
    for split in ("val", "test"):
        proba = np.asarray(method.predict_proba(data.proba[split]), dtype=np.float64)
        pred = PredictionSet(data.classes, data.sample_ids[split], data.labels[split], proba)
        predictions[split] = pred
        metrics.update(folders.split_metrics(pred, fns, split))
    infer = [r.metrics.get("test.infer_seconds", float("nan")) for r in data.records]
    metrics.update({"cost.infer_seconds": float(np.sum(infer)), "test.infer_seconds": float(np.sum(infer)),
                    "n_members": len(data.records)})
    for key in ("params", "gmacs"):  # an ensemble carries every member's weights and compute
        if all(key in r.metrics for r in data.records):
            metrics[key] = float(sum(r.metrics[key] for r in data.records))
    config["fit_split"] = fit
    get_state = getattr(method, "get_state", None)
    if callable(get_state):  # the fitted state as arrays, so harness.Predictor combines members without refitting
        atomic_save_npz(folder / ENSEMBLE_STATE, **get_state())
    if method.weights_ is not None:
        config["weights"] = [float(w) for w in method.weights_]
    analysis = analyse(lambda opts: build_method(registries, spec["plugin"], opts), options, data,
                       predictions["test"].proba)
    folders.finish(folder, config, predictions, metrics, {"analysis.json": analysis})

"""Running an experiment: plan the cells, skip finished ones, record failures, publish."""

from __future__ import annotations

import datetime as dt
import functools
import json
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import __version__
from harness.config import Experiment
from harness.data import Dataset, fold_dataset
from harness.errors import HarnessError, short_reason
from harness.execution.settings import Execution
from harness.matrix import Cell, CellSpec, fold_cell, make_cell, row_label
from harness.planned_data import DatasetFacts, LazyDatasets, dataset_facts
from harness.plugins import Plugins
from harness.preprocess import with_preprocessing
from harness.store import RESUME as RESUME_FILE
from harness.store import (
    STATUS,
    StoreWriteError,
    atomic_write_json,
    load_run,
    read_cell,
    reset_cell_dir,
    skipped_note,
    write_skipped,
)


@dataclass
class Plan:
    """Cells with the data they need; a dataset that failed to build fails its cells.

    ``folds`` are the extra cells k-fold ensembles train; they are not leaderboard rows.
    """

    cells: list[Cell]
    folds: list[Cell] = field(default_factory=list)
    datasets: dict[str, Dataset | HarnessError] = field(default_factory=dict)
    dataset_of: dict[str, str] = field(default_factory=dict)  # cell id -> dataset key


def _dataset_key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def build_dataset(config: dict[str, Any], plugins: Plugins) -> Dataset:
    options = {k: v for k, v in config.items() if k != "plugin"}
    dataset = plugins.registry("datasets").get(config["plugin"])(**options)
    if not isinstance(dataset, Dataset):
        raise HarnessError(f"dataset plugin {config['plugin']!r} returned {type(dataset).__name__}, not harness.Dataset")
    return dataset


def plan(experiment: Experiment, plugins: Plugins) -> Plan:
    """Name every cell; datasets are built when a cell first needs one (see :mod:`harness.planned_data`)."""
    result = Plan([], datasets=LazyDatasets(build=functools.partial(build_dataset, plugins=plugins)))
    # plugins applied afterwards (metrics, ensembles, TTA) stay out of the key: installing one retrains nothing
    versions = plugins.result_versions([experiment.select_by, *(c.config.get("tune", {}).get("metric", "")
                                                                for c in experiment.cells)])
    labels = _unique_labels(experiment.cells)
    facts: dict[str, DatasetFacts] = {}
    for spec, label in zip(experiment.cells, labels):
        key = _dataset_key(spec.config["dataset"])
        if key not in facts:
            facts[key] = _plan_dataset(result, key, spec.config["dataset"], plugins)
        data = result.datasets.get(key)
        spec = CellSpec(with_preprocessing(spec.config, plugins.registry("models"), data, size=facts[key].size),
                        spec.axes, spec.sources)
        cell = make_cell(spec, facts[key].fingerprint, versions, label)
        result.cells.append(cell)
        result.dataset_of[cell.id] = key
    for parent, k in kfold_parents(experiment, result.cells, plugins):
        for index in range(k):
            fold = fold_cell(parent, k, index)
            result.folds.append(fold)
            result.dataset_of[fold.id] = result.dataset_of[parent.id]
    return result


def _plan_dataset(result: Plan, key: str, config: dict[str, Any], plugins: Plugins) -> DatasetFacts:
    """The dataset's fingerprint and size, cheaply when its plugin can tell; a built one is kept."""
    registry = plugins.registry("datasets")
    cheap = registry.entry(config["plugin"]).fingerprint if config.get("plugin") in registry else None
    found = dataset_facts(config, functools.partial(build_dataset, plugins=plugins), cheap)
    result.datasets.configs[key] = config
    if found.built is not None:
        result.datasets[key] = found.built
    return found


def kfold_parents(experiment: Experiment, cells: list[Cell], plugins: Plugins) -> list[tuple[Cell, int]]:
    """``(cell, k)`` for every cell a k-fold ensemble block asks to train in folds."""
    import fnmatch

    from harness.ensembles.types import ensemble_class

    out = []
    registry = plugins.registry("ensembles")
    for spec in experiment.ensembles:
        if spec["plugin"] not in registry or ensemble_class(registry.get(spec["plugin"]), spec["plugin"]).source != "folds":
            continue
        globs = [spec["members"]] if isinstance(spec["members"], str) else spec["members"]
        k = int(spec.get("k", 5))
        out += [(c, k) for c in cells if any(fnmatch.fnmatchcase(c.row, g) for g in globs)]
    unique = {(c.id, k): (c, k) for c, k in out}  # two blocks naming the same cell and k train it once
    return list(unique.values())


def _unique_labels(specs: tuple[CellSpec, ...]) -> list[str]:
    """Row labels, made unique when two different configurations would share one."""
    seen: dict[str, str] = {}
    labels = []
    for spec in specs:
        label = row_label(spec)
        row = json.dumps({k: v for k, v in spec.config.items() if k != "seed"}, sort_keys=True, default=str)
        candidate, n = label, 1
        while seen.get(candidate, row) != row:
            n += 1
            candidate = f"{label} #{n}"
        seen[candidate] = row
        labels.append(candidate)
    return labels


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
        return out.stdout.strip() if out.returncode == 0 else ""
    except OSError:
        return ""


def _torch_version() -> str:
    """torch's version with its build tag (``2.4.1+cu121``), read without importing torch.

    A process-pool or Ray driver never needs torch itself, and importing it costs a second.
    """
    import importlib.metadata
    import importlib.util

    if "torch" in sys.modules:
        return str(sys.modules["torch"].__version__)
    try:
        found = importlib.util.find_spec("torch")
        spec = importlib.util.spec_from_file_location("_torch_version", Path(found.origin).parent / "version.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return str(module.__version__)
    except (AttributeError, ImportError, OSError, TypeError):  # an unusual install: the distribution's version
        return importlib.metadata.version("torch")


def _run_metadata(experiment: Experiment, started: str) -> dict[str, Any]:
    import importlib.metadata

    packages = {}
    for name in ("torch", "timm", "numpy", "scikit-learn", "optuna", "pandas"):
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "experiment": experiment.name,
        "file": str(experiment.path),
        "harness_version": __version__,
        "torch_version": _torch_version(),
        "packages": packages,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
        "started": started,
    }


def run_experiment(experiment: Experiment, plugins: Plugins, *, runs_dir: Path, fresh: bool = False,
                   show_progress: bool = True, echo: Callable[[str], None] = print,
                   execution: Execution | None = None, started: float | None = None,
                   board_dir: Path | None = None) -> tuple[Plan, Path]:
    """Run every cell that is not done yet; returns the plan and the experiment's run folder.

    Args:
        execution: backend and workers (default: the experiment's ``[execution]``, else this process).
        started: when this ``harness run`` began (default: now); cells other workers settle
            after it are not run again.
        board_dir: where the leaderboard goes. Given, the process pool's last worker
            publishes it (with ``run.json``) while its imports are warm; the caller's own
            :func:`publish` through :func:`harness.execution.publish_once` then finds it current.
    """
    root = Path(runs_dir) / experiment.name
    the_plan = plan(experiment, plugins)
    everything = the_plan.cells + the_plan.folds
    from harness.store_remote import attach_store, detach_store
    from harness.tracking import attach, detach

    mirror = attach_store(experiment, plugins, root, everything, echo, pull=not fresh)  # stored cells land first
    states = {c.id: read_cell(root / c.id).status for c in everything}
    todo = [c for c in everything if fresh or states[c.id] != "done"]
    folds = f" (+{len(the_plan.folds)} k-fold cells)" if the_plan.folds else ""
    echo(f"experiment {experiment.name}: {len(the_plan.cells)} cells{folds}, {len(everything) - len(todo)} done, "
         f"{len(todo)} to run -> {root}")
    settled = not todo and (root / "run.json").exists()  # nothing to run: run.json stays as it is
    meta = {} if settled else _run_metadata(experiment, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    root.mkdir(parents=True, exist_ok=True)
    from harness.execution import execute

    hub = attach(experiment, plugins, root)
    try:
        execute(experiment, plugins, the_plan, root, fresh=fresh, show_progress=show_progress, echo=echo,
                settings=execution, started=started, board=(board_dir, meta) if board_dir and meta else None)
    finally:
        detach(plugins, hub)
        detach_store(plugins, mirror)
    if not settled and not _finished_by_worker(root, meta):
        write_run_record(experiment, root, meta, echo)
    return the_plan, root


def write_run_record(experiment: Experiment, root: Path, meta: dict[str, Any], echo: Callable[[str], None]) -> None:
    """``run.json``: the run's metadata with its finishing time."""
    meta = {**meta, "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "device": experiment.train.get("device", "cpu")}
    try:
        atomic_write_json(Path(root) / "run.json", meta)
    except StoreWriteError as exc:  # descriptive only: the cells hold the results, publish anyway
        echo(f"run.json not written: {exc}")


def _finished_by_worker(root: Path, meta: dict[str, Any]) -> bool:
    """A pool worker already wrote this run's ``run.json`` (rewriting it would redraw its leaderboard)."""
    try:
        written = json.loads((Path(root) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(written, dict) and "finished" in written and \
        {k: written.get(k) for k in meta} == meta


def _run_one(cell: Cell, data: Dataset | HarnessError, plugins: Plugins, cell_dir: Path, select_by: str,
             show_progress: bool, prefix: str, echo: Callable[[str], None], tta: dict[str, Any] | None,
             join: bool = False) -> None:
    """Train one cell into ``cell_dir``; ``join``: help the study of a tuned cell another worker holds.

    Nothing the cell raises ends the matrix but the user's Ctrl-C (:mod:`harness.isolation`).
    """
    from harness.isolation import guarded

    config = {**cell.config, "id": cell.id, "key": cell.key, "row": cell.row, "row_key": cell.row_key,
              "plugins": plugins.versions()}
    guarded(lambda: _run_one_unguarded(cell, data, plugins, cell_dir, select_by, show_progress, prefix, echo, tta,
                                       join),
            cell_dir, config, prefix, echo, lambda exc: plugins.hook.harness_cell_error(cell=cell, error=exc))


def _run_one_unguarded(cell: Cell, data: Dataset | HarnessError, plugins: Plugins, cell_dir: Path, select_by: str,
                       show_progress: bool, prefix: str, echo: Callable[[str], None], tta: dict[str, Any] | None,
                       join: bool = False) -> None:
    from harness.train.cell import run_cell

    if "tune" in cell.config:  # other workers may share this folder: never delete it under them
        if not join:
            (cell_dir / STATUS).unlink(missing_ok=True)
        cell_dir.mkdir(parents=True, exist_ok=True)
    elif (cell_dir / RESUME_FILE).exists() and not (cell_dir / STATUS).exists():
        echo(f"{prefix}: interrupted before, continuing from its last finished epoch")
        for leftover in cell_dir.glob(".*.tmp"):  # a write the kill cut short
            leftover.unlink(missing_ok=True)
    else:
        reset_cell_dir(cell_dir)
        cell_dir.mkdir(parents=True)
    config = {**cell.config, "id": cell.id, "key": cell.key, "row": cell.row, "row_key": cell.row_key,
              "plugins": plugins.versions()}
    started = time.perf_counter()
    try:
        if isinstance(data, HarnessError):
            raise data
        if "fold" in cell.config:
            data = fold_dataset(data, cell.config["fold"]["k"], cell.config["fold"]["index"])
        config["classes"] = list(data.classes)
        config["data_fingerprint"] = data.fingerprint
        config["skipped_images"] = len(data.skipped)
        write_skipped(cell_dir, data.skipped)
        config["train_class_counts"] = data.train.class_counts(len(data.classes))  # the chance rows' prior
        atomic_write_json(cell_dir / "config.json", config)
        plugins.hook.harness_cell_start(cell=cell)

        planned = {"epochs": cell.config["train"]["epochs"]}  # a one-pass model says 1 at fit_start

        def events(name: str, **kwargs: Any) -> None:
            if name == "fit_start":
                planned["epochs"] = kwargs["epochs"]
            _lifecycle(plugins, cell, name, **kwargs)

        def on_epoch(epoch: int, logs: dict[str, Any]) -> None:
            shown = "  ".join(f"{k} {v:.4g}" for k, v in logs.items()
                              if k in ("train.loss", "val.loss", select_by) and isinstance(v, float))
            echo(f"{prefix}: epoch {epoch}/{planned['epochs']}  {shown}  ({logs['seconds']:.1f}s)")
            plugins.hook.harness_epoch_end(cell=cell, epoch=epoch, logs=logs)

        if "tune" in cell.config:
            from harness.tune.run import run_tuned_cell

            metrics = run_tuned_cell(cell, data, plugins.registries, cell_dir, cell_dir.parent,
                                     experiment=cell_dir.parent.name, select_by=select_by, echo=echo,
                                     run_cell=functools.partial(run_cell, tta=tta), show_progress=show_progress)
        else:
            metrics = run_cell(cell, data, plugins.registries, cell_dir, select_by=select_by, on_epoch=on_epoch,
                               show_progress=show_progress, tta=tta, events=events)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - a failing cell is recorded and the matrix goes on
        if not (cell_dir / "config.json").exists():
            atomic_write_json(cell_dir / "config.json", config)
        reason = str(exc) if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
        atomic_write_json(cell_dir / STATUS, {"status": "failed", "reason": reason,
                                              "traceback": traceback.format_exc()})
        echo(f"{prefix}: FAILED: {short_reason(reason, cell_dir / STATUS)}")
        plugins.hook.harness_cell_error(cell=cell, error=exc)
        return
    atomic_write_json(cell_dir / STATUS, {"status": "done", "seconds": time.perf_counter() - started})
    echo(f"{prefix}: done in {time.perf_counter() - started:.1f}s")
    plugins.hook.harness_cell_finish(cell=cell, metrics=metrics)


def _lifecycle(plugins: Plugins, cell: Cell, name: str, **kwargs: Any) -> None:
    """A cell's ``harness.train.events`` call as the hook ``harness_<name>`` (fit and validation start/end)."""
    getattr(plugins.hook, f"harness_{name}")(cell=cell, **kwargs)


def publish(experiment: Experiment, the_plan: Plan, root: Path, plugins: Plugins, out_dir: Path,
            echo: Callable[[str], None] | None = None):
    """Write the leaderboard of the cells of this matrix (stale cells of older configs left out).

    Returns the leaderboard, or a :class:`harness.leaderboard.stamp.Unchanged` when the pages
    already drawn came from the very same inputs and were left as they were.
    """
    from harness.leaderboard import build_leaderboard, terminal_table
    from harness.leaderboard.stamp import unchanged, write_stamp

    ids = {c.id for c in the_plan.cells}
    if experiment.tta:  # cells that finished before [tta] was set: their views from the checkpoint, no training
        from harness.backfill import backfill_tta

        backfill_tta(root, the_plan.cells, experiment.tta, the_plan.datasets, the_plan.dataset_of, plugins.registries,
                     echo=echo)
    from harness.backfill import backfill_metrics

    backfill_metrics(root, the_plan.cells, plugins.registries, echo=echo)  # metric plugins installed since
    from harness.backfill import apply_metric_options

    apply_metric_options(root, the_plan.cells, plugins.registries, experiment.metrics, echo=echo)  # [metrics.<family>]
    if experiment.ensembles or experiment.tta:  # finished ones are reused: this never trains
        from harness.derived import build_derived

        derived = build_derived(root, the_plan.cells, experiment, plugins.registries, echo=echo)
        ids |= set(derived)
        from harness.tracking import log_derived

        log_derived(experiment, plugins, root, derived)
    stamp = _leaderboard_stamp(experiment, root, ids, plugins)
    kept = unchanged(Path(out_dir), stamp)
    if kept is not None:  # same inputs as the pages already drawn: nothing to redraw
        return kept
    run = load_run(root)
    run.cells = {k: v for k, v in run.cells.items() if k in ids}
    board = build_leaderboard(run, Path(out_dir), rank_by=experiment.rank_by, title=experiment.name,
                              select_by=experiment.select_by, decisions=experiment.decisions,
                              n_resamples=(experiment.decisions or {}).get("resamples", 1000),
                              n_permutations=(experiment.decisions or {}).get("permutations", 2000),
                              description=" ".join(filter(None, [experiment.description,
                                                                 skipped_note(root, ids)])),
                              jinja_hook=lambda env: plugins.hook.harness_prepare_jinja2_environment(env=env))
    write_stamp(Path(out_dir), stamp, terminal_table(board))
    return board


def _leaderboard_stamp(experiment: Experiment, root: Path, ids: set[str], plugins: Plugins) -> str:
    """The stamp of the leaderboard's inputs (see :mod:`harness.leaderboard.stamp`)."""
    from harness.leaderboard.stamp import inputs_stamp

    settings = {"rank_by": experiment.rank_by, "select_by": experiment.select_by, "title": experiment.name,
                "description": experiment.description, "harness": __version__, "plugins": plugins.versions(),
                "decisions": experiment.decisions}
    return inputs_stamp(root, ids, settings)

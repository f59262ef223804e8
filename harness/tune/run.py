"""A tuned cell: trials train into ``runs/<exp>/.trials/<cell>/<n>/``; the best becomes the cell."""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from harness.data import Dataset
from harness.errors import HarnessError
from harness.matrix import Cell, digest
from harness.store import atomic_write_bytes, atomic_write_json, read_json
from harness.tune.space import Param, apply, flatten_space, is_finite_number, parse_param
from harness.tune.study import COUNTED, counts, open_study, owner, redact, retry_dead_trials, storage_url

RESULT_FILES = ("history.json", "metrics.json", "checkpoint.safetensors", "predictions_val.csv",
                "predictions_test.csv", "maps_test.npz", "thumbs_test.npz")
NOT_IN_STUDY_NAME = ("n_trials", "timeout", "storage", "refit")


class ExcessTrial(Exception):
    """Another worker already claimed the last trial this study needs."""


def study_name(experiment: str, cell: Cell) -> str:
    """Stable across reruns and across ``n_trials`` / ``timeout`` changes, so studies continue."""
    tune = {k: v for k, v in cell.config["tune"].items() if k not in NOT_IN_STUDY_NAME}
    config = {k: v for k, v in cell.config.items() if k != "tune"}
    return f"{experiment}/{cell.id.rsplit('-', 1)[0]}-{digest({'config': config, 'tune': tune}, 8)}"


def params_of(tune: dict[str, Any]) -> list[Param]:
    params = []
    for key, spec in flatten_space(tune.get("space") or {}).items():
        param, problems = parse_param(key, spec)
        if param is None:
            raise HarnessError(f"tune.space.{key}: {problems[0][1]}")
        params.append(param)
    return params


def _claimed_before(trial: optuna.Trial) -> int:
    states = (*COUNTED, optuna.trial.TrialState.RUNNING)
    return sum(1 for t in trial.study.get_trials(deepcopy=False, states=states)
               if t.number < trial.number and not t.user_attrs.get("excess"))


def run_tuned_cell(cell: Cell, dataset: Dataset, registries: dict[str, Any], cell_dir: Path, root: Path, *,
                   experiment: str, select_by: str, echo: Callable[[str], None], run_cell: Callable[..., dict],
                   show_progress: bool) -> dict[str, float]:
    """Run (or continue) the cell's study to ``n_trials`` in total, then keep the best trial."""
    tune = cell.config["tune"]
    n_trials, metric = tune.get("n_trials", 10), tune["metric"]
    params = params_of(tune)
    name = study_name(experiment, cell)
    study = open_study(name, tune, params, cell.seed, root / "optuna.journal")
    if not storage_url(tune) and (retried := retry_dead_trials(study)):
        echo(f"  {retried} trial(s) of a dead worker failed and queued again")
    base = {k: v for k, v in cell.config.items() if k != "tune"}
    trials_dir = root / ".trials" / cell.id

    def objective(trial: optuna.Trial) -> float:
        for key, value in owner().items():
            trial.set_user_attr(key, value)
        if _claimed_before(trial) >= n_trials:
            trial.set_user_attr("excess", True)
            trial.study.stop()
            raise ExcessTrial
        values = {p.path: p.suggest(trial) for p in params}
        trial_cell = dataclasses.replace(cell, config=apply(base, values))
        trial_dir = trials_dir / str(trial.number)
        shutil.rmtree(trial_dir, ignore_errors=True)
        trial_dir.mkdir(parents=True)

        def on_epoch(epoch: int, logs: dict[str, Any]) -> None:
            value = logs.get(metric)
            if value is None:
                raise HarnessError(f"tune metric {metric!r} is not computed; available: "
                                   f"{', '.join(sorted(k for k in logs if k.startswith('val.')))}")
            trial.report(float(value), epoch)
            if trial.should_prune():
                echo(f"  trial {trial.number}: pruned at epoch {epoch} ({metric} {value:.4g})")
                raise optuna.TrialPruned()

        metrics = run_cell(trial_cell, dataset, registries, trial_dir, select_by=select_by, on_epoch=on_epoch,
                           show_progress=show_progress)
        value = metrics.get(metric)
        if not is_finite_number(value):
            raise HarnessError(f"trial ended with {metric} = {value}")
        echo(f"  trial {trial.number}: {metric} {value:.4g}  " + "  ".join(f"{k}={v:.4g}" if isinstance(v, float)
                                                                          else f"{k}={v}" for k, v in values.items()))
        return float(value)

    def enough(study: optuna.Study, _trial: Any) -> None:
        c = counts(study)
        if c["complete"] + c["pruned"] >= n_trials or c["fail"] >= max(n_trials, 3):
            study.stop()

    while True:
        c = counts(study)
        if c["complete"] + c["pruned"] < n_trials:
            echo(f"  study {name}: {c['complete'] + c['pruned']} of {n_trials} trials done")
            study.optimize(objective, callbacks=[enough], timeout=tune.get("timeout"), catch=(Exception,),
                           gc_after_trial=False)
        c = _wait_for_others(study, tune)
        if not c["waiting"] or c["complete"] + c["pruned"] >= n_trials or c["fail"] >= max(n_trials, 3):
            break  # nothing queued again meanwhile (a dead worker's trial), or nothing left to run it for
    return _finish(study, cell, dataset, registries, cell_dir, trials_dir, base, params, select_by, run_cell,
                   show_progress, tune, name)


def _wait_for_others(study: optuna.Study, tune: dict[str, Any], poll: float = 1.0) -> dict[str, int]:
    """Other workers may still be running the study's last trials: wait until they land.

    Returns the study's :func:`counts` then; ``waiting`` counts trials of dead workers
    queued to run again meanwhile.
    """
    while (c := counts(study))["running"]:
        if storage_url(tune):
            optuna.storages.fail_stale_trials(study)
        else:
            retry_dead_trials(study)
        time.sleep(poll)
    return c


def _finish(study: optuna.Study, cell: Cell, dataset: Dataset, registries: dict[str, Any], cell_dir: Path,
            trials_dir: Path, base: dict[str, Any], params: list[Param], select_by: str, run_cell: Callable[..., dict],
            show_progress: bool, tune: dict[str, Any], name: str) -> dict[str, float]:
    complete = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    c = counts(study)
    if not complete:
        raise HarnessError(f"no trial completed ({c['pruned']} pruned, {c['fail']} failed)")
    best = study.best_trial
    source = trials_dir / str(best.number)
    if tune.get("refit") or not (source / "metrics.json").exists():
        # another machine ran the best trial, or a refit was asked for: train its parameters here
        best_cell = dataclasses.replace(cell, config=apply(base, {p.path: best.params[p.path] for p in params}))
        run_cell(best_cell, dataset, registries, cell_dir, select_by=select_by, on_epoch=lambda e, logs: None,
                 show_progress=show_progress)
    else:
        for file in RESULT_FILES:
            if (source / file).exists():
                atomic_write_bytes(cell_dir / file, (source / file).read_bytes())
    metrics = read_json(cell_dir / "metrics.json")
    metrics.update({"tune.complete": c["complete"], "tune.pruned": c["pruned"], "tune.failed": c["fail"],
                    "tune.best_trial": best.number})
    atomic_write_json(cell_dir / "metrics.json", metrics)
    atomic_write_json(cell_dir / "tuning.json", _summary(study, tune, name, best))
    return metrics


def _summary(study: optuna.Study, tune: dict[str, Any], name: str, best: optuna.trial.FrozenTrial) -> dict[str, Any]:
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("excess")]
    importances: dict[str, float] = {}
    if sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) >= 2 and len(best.params) >= 1:
        try:
            importances = {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
        except Exception:  # noqa: BLE001 - importances need varied trials; absence is shown, not fatal
            importances = {}
    return {
        "study": name,
        "storage": redact(storage_url(tune)) if storage_url(tune) else "journal",
        "metric": tune["metric"],
        "direction": study.direction.name.lower(),
        "n_trials": tune.get("n_trials", 10),
        "sampler": tune.get("sampler", "tpe"),
        "pruner": tune.get("pruner", "median"),
        "counts": counts(study),
        "best_trial": best.number,
        "best_value": best.value,
        "best_params": best.params,
        "importances": importances,
        "trials": [{"number": t.number, "state": t.state.name.lower(),
                    "value": t.value if t.value is not None and math.isfinite(t.value) else None,
                    "params": t.params, "intermediate": {str(k): v for k, v in t.intermediate_values.items()}}
                   for t in trials],
    }

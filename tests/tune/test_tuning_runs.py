"""Tuned cells end to end: real Optuna studies in journal files (and PostgreSQL below)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from harness import load_run

pytestmark = pytest.mark.slow


def harness(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env=env)


def run_args(path: Path, tmp: Path, runs: str = "runs") -> list[str]:
    return ["run", str(path), "--runs-dir", str(tmp / runs), "--leaderboards-dir", str(tmp / "lb"), "--no-progress"]


def only_study(journal: Path) -> optuna.Study:
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage)


def counted(study: optuna.Study) -> int:
    return sum(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
               and not t.user_attrs.get("excess") for t in study.trials)


def test_tuned_cell_keeps_the_best_trial(tiny_experiment, tmp_path):
    path = tiny_experiment("""
        [tune]
        n_trials = 4
        metric = "val.loss"
        pruner = "none"
        space.lr = { low = 1e-3, high = 1e-1, log = true }
        space.model.width = { choices = [4, 8] }

        [[matrix.model]]
        plugin = "toy-cnn"
        """, name="tuned")
    proc = harness(*run_args(path, tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = load_run(tmp_path / "runs" / "tuned")
    (cell,) = run.done()
    tuning = json.loads((cell.path / "tuning.json").read_text())
    assert tuning["counts"]["complete"] == 4 and len(tuning["trials"]) == 4
    values = {t["number"]: t["value"] for t in tuning["trials"]}
    assert tuning["best_value"] == min(values.values()) and values[tuning["best_trial"]] == tuning["best_value"]
    assert set(tuning["best_params"]) == {"train.optimizer.lr", "model.width"}
    assert cell.metrics["val.loss"] == pytest.approx(tuning["best_value"], abs=1e-12)
    assert cell.metrics["tune.complete"] == 4
    best_dir = tmp_path / "runs" / "tuned" / ".trials" / cell.id / str(tuning["best_trial"])
    assert (best_dir / "predictions_test.csv").read_bytes() == (cell.path / "predictions_test.csv").read_bytes()
    again = harness(*run_args(path, tmp_path), cwd=tmp_path)
    assert "skipped (done)" in again.stdout and "trial " not in again.stdout


def test_killed_study_continues_to_exactly_n_trials(tiny_experiment, tmp_path):
    path = tiny_experiment("""
        [tune]
        n_trials = 6
        pruner = "none"
        space.lr = { low = 1e-3, high = 1e-1, log = true }

        [[matrix.model]]
        plugin = "toy-cnn"
        width = 16
        """, name="killstudy", epochs=3)
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *run_args(path, tmp_path)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / "runs" / "killstudy" / "optuna.journal"
    deadline = time.monotonic() + 600
    done_before = 0
    while time.monotonic() < deadline:
        if journal.exists():
            try:
                done_before = counted(only_study(journal))
            except (ValueError, KeyError):
                done_before = 0
            if done_before >= 2:
                break
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    study = only_study(journal)
    before = counted(study)
    assert 2 <= before < 6
    resumed = harness(*run_args(path, tmp_path), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"{before} of 6 trials done" in resumed.stdout
    study = only_study(journal)
    assert counted(study) == 6
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    (cell,) = load_run(tmp_path / "runs" / "killstudy").done()
    assert json.loads((cell.path / "tuning.json").read_text())["counts"]["complete"] == 6


def test_trial_killed_before_it_named_its_owner_is_run_again(tiny_experiment, tmp_path):
    """A kill between a trial's creation and the objective's first line leaves a RUNNING
    trial with no owner. The next run used to wait for it forever; past a short grace it is
    failed, queued again and run, and the study ends at exactly ``n_trials``."""
    experiment = """
        [tune]
        n_trials = {n}
        pruner = "none"
        space.lr = {{ low = 1e-3, high = 1e-1, log = true }}

        [[matrix.model]]
        plugin = "toy-cnn"
        width = 8
        """
    first = harness(*run_args(tiny_experiment(experiment.format(n=1), name="ownerless"), tmp_path), cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    journal = tmp_path / "runs" / "ownerless" / "optuna.journal"
    orphan = only_study(journal).ask()  # created, never told who runs it: as if killed right here
    second = harness(*run_args(tiny_experiment(experiment.format(n=2), name="ownerless"), tmp_path), cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    study = only_study(journal)
    assert study.trials[orphan.number].state == optuna.trial.TrialState.FAIL
    assert counted(study) == 2
    assert [t.user_attrs.get("retry_of") for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE] \
        == [None, orphan.number]
    assert not [t for t in study.trials if t.state in (optuna.trial.TrialState.RUNNING,
                                                       optuna.trial.TrialState.WAITING)]


def test_bad_region_gets_pruned(tiny_experiment, tmp_path):
    path = tiny_experiment("""
        [tune]
        n_trials = 8
        metric = "val.loss"
        sampler = "random"
        pruner = { name = "median", n_startup_trials = 2, n_warmup_steps = 0 }
        space.lr = { choices = [0.05, 1e-9] }

        [[matrix.model]]
        plugin = "toy-cnn"
        width = 16
        """, name="prune", epochs=4)
    proc = harness(*run_args(path, tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (cell,) = load_run(tmp_path / "runs" / "prune").done()
    trials = json.loads((cell.path / "tuning.json").read_text())["trials"]
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert pruned, trials
    assert all(t["params"]["train.optimizer.lr"] == 1e-9 for t in pruned)
    assert len(trials) == 8
    assert cell.metrics["tune.pruned"] == len(pruned)

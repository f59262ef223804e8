"""Four ``harness run`` processes on one experiment and one PostgreSQL: two tune while two train
untuned cells, then the free ones join the studies; every cell and every trial runs once."""

from __future__ import annotations

import json
import subprocess

import optuna
import pytest
from multiworker import env, harness_cmd, training_starts
from tune.test_postgres import postgres  # noqa: F401 - the loopback PostgreSQL server fixture

pytestmark = pytest.mark.slow

MIXED = """
[experiment]
name = "mixed"
seeds = [0, 1]

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = 128
n_val = 32
n_test = 32

[train]
epochs = 3
batch_size = 32
optimizer = { name = "adam", lr = 1e-2 }

[[matrix.model]]
plugin = "toy-cnn"
width = 32
tune = { n_trials = 8, pruner = "none", sampler = "random", space.lr = { low = 1e-3, high = 1e-1, log = true } }

[[matrix.model]]
plugin = "toy-cnn"
width = [2, 3, 4, 5]

[execution]
lease_seconds = 10
poll_seconds = 0.5
"""


def test_tuning_and_untuned_workers_share_one_experiment(postgres, tmp_path):  # noqa: F811
    path = tmp_path / "mixed.toml"
    path.write_text(MIXED, encoding="utf-8")
    runs = tmp_path / "runs"
    procs = [subprocess.Popen(harness_cmd(path, runs, tmp_path / "lb"), cwd=tmp_path,
                              env=env(HARNESS_OPTUNA_STORAGE=postgres), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, "\n---\n".join(outs)
    root = runs / "mixed"
    records = {p.stem: json.loads(p.read_text()) for p in (root / ".claims").glob("*-*.json")}
    tuned = sorted(c for c in records if "tune" in json.loads((root / c / "config.json").read_text()))
    untuned = sorted(c for c in records if c not in tuned)
    assert len(tuned) == 2 and len(untuned) == 8
    assert all(records[c]["state"] == "done" for c in records)
    assert all(json.loads((root / c / "status.json").read_text())["status"] == "done" for c in records)
    # every untuned cell trained exactly once, across all four logs
    starts = training_starts("\n".join(outs))
    assert {c: starts.get(c) for c in untuned} == {c: 1 for c in untuned}
    # the two studies ran at the same time as untuned cells, on other workers
    tuners = {records[c]["worker"] for c in tuned}
    assert len(tuners) == 2
    overlap = [c for c in untuned if records[c]["worker"] not in tuners
               and records[c]["since"] < min(records[t]["at"] for t in tuned)]
    assert overlap, records
    storage = optuna.storages.RDBStorage(postgres)
    summaries = optuna.get_all_study_summaries(storage)
    assert len(summaries) == 2
    pids = set()
    for summary in summaries:
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        real = [t for t in study.trials if not t.user_attrs.get("excess")]
        assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in real) == 8
        assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
        pids |= {t.user_attrs["pid"] for t in real}
        cell = next(c for c in tuned if json.loads((root / c / "tuning.json").read_text())["study"] == summary.study_name)
        result = json.loads((root / cell / "tuning.json").read_text())
        assert result["best_trial"] == study.best_trial.number
        assert result["best_value"] == pytest.approx(study.best_value, abs=1e-12)
    assert len(pids) >= 3  # the workers that ran out of untuned cells joined the studies
    assert sum("\nleaderboard: " in o for o in outs) == 1
    results = json.loads((tmp_path / "lb" / "mixed" / "results.json").read_text())
    assert sorted(c for r in results["rows"] for c in r["cells"]) == sorted(records)

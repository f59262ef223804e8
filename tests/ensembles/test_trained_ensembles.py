"""k-fold and snapshot ensembles: members made by training, rows computed from the store."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from harness import load_run

pytestmark = pytest.mark.slow


def test_kfold_snapshot_and_stacking_on_out_of_fold(tiny_experiment, tmp_path):
    path = tiny_experiment("""
        [[matrix.model]]
        plugin = "toy-cnn"
        width = [4, 8]

        [[ensemble]]
        plugin = "kfold"
        name = "kfold"
        members = "toy-cnn*"
        k = 3

        [[ensemble]]
        plugin = "snapshot"
        name = "snapshot"
        members = "toy-cnn width=4"

        [[ensemble]]
        plugin = "stacking"
        name = "stack-folds"
        members = ["ensemble kfold*"]
        """, name="trained", epochs=3, scheduler='{ name = "cosine_warm_restart", T_0 = 1 }')
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(path), "--runs-dir", str(tmp_path / "runs"),
                           "--leaderboards-dir", str(tmp_path / "lb"), "--no-progress"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(+6 k-fold cells)" in proc.stdout
    run = load_run(tmp_path / "runs" / "trained")
    rows = {c.row: c for c in run.cells.values() if c.config.get("kind") == "ensemble"}
    assert set(rows) == {"ensemble kfold: toy-cnn width=4", "ensemble kfold: toy-cnn width=8",
                         "ensemble snapshot: toy-cnn width=4", "ensemble stack-folds"}
    assert all(c.status == "done" for c in rows.values()), {r: c.reason for r, c in rows.items()}

    kfold = rows["ensemble kfold: toy-cnn width=4"]
    parent = next(c for c in run.cells.values() if c.row == "toy-cnn width=4" and "fold" not in c.id
                  and c.config.get("kind") is None)
    folds = [run.prediction_set(m, "test") for m in kfold.config["members"]]
    assert len(folds) == 3
    np.testing.assert_allclose(run.prediction_set(kfold.id, "test").proba, np.mean([f.proba for f in folds], axis=0))
    oof = run.prediction_set(kfold.id, "oof")
    fold_vals = [set(run.predictions(m, "val")["sample_id"]) for m in kfold.config["members"]]
    assert len(oof) == 32 + 16 and len(set(oof.sample_ids)) == 48  # train + val, each sample exactly once
    assert sum(len(v) for v in fold_vals) == 48 and set().union(*fold_vals) == set(oof.sample_ids)
    assert set(run.predictions(parent.id, "val")["sample_id"]) <= set(oof.sample_ids)

    snapshot = rows["ensemble snapshot: toy-cnn width=4"]
    assert snapshot.metrics["n_members"] == 3  # T_0 = 1 over 3 epochs: three cycles end
    snaps = sorted((parent.path / "snapshots").glob("epoch_*"))
    assert [p.name for p in snaps] == ["epoch_0001", "epoch_0002", "epoch_0003"]

    stack = rows["ensemble stack-folds"]
    assert stack.config["fit_split"] == "oof"
    assert sorted(stack.config["member_rows"]) == ["ensemble kfold: toy-cnn width=4", "ensemble kfold: toy-cnn width=8"]
    html = (tmp_path / "lb" / "trained" / "index.html").read_text()
    assert "ensemble kfold: toy-cnn width=8" in html and "fold1of3" not in html.split("Failed")[0]

"""End to end: the ``harness`` command as a user runs it, in real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, classification_report, f1_score, roc_auc_score

from harness import load_run

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def harness(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900, **kwargs)


def run_args(file: Path, tmp: Path, *extra: str) -> list[str]:
    return ["run", str(file), "--runs-dir", str(tmp / "runs"), "--leaderboards-dir", str(tmp / "lb"), *extra]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smoke")
    first = harness(*run_args(REPO / "experiments" / "smoke.toml", tmp), cwd=tmp)
    return tmp, first


def test_smoke_writes_leaderboard(smoke):
    tmp, first = smoke
    assert first.returncode == 0, first.stdout + first.stderr
    board = tmp / "lb" / "smoke"
    results = json.loads((board / "results.json").read_text())
    models = [r for r in results["rows"] if r["kind"] == "model"]
    assert [r["n_seeds"] for r in models] == [2, 2]
    assert {r["row"] for r in models} == {"timm arch=resnet10t", "timm arch=convnext_atto"}
    assert {r["row"] for r in results["rows"] if r["kind"] == "chance"} == {
        "chance: majority class", "chance: stratified"}
    means = [r["metrics"]["test.f1_macro"]["mean"] for r in results["rows"]]
    assert means == sorted(means, reverse=True)
    html = (board / "index.html").read_text()
    assert "convnext_atto" in html and "resnet10t" in html and ">vs chance<" in html
    csv_lines = (board / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 5  # header, two models, two chance rows
    assert "leaderboard:" in first.stdout and "timm arch=convnext_atto" in first.stdout


def test_smoke_beats_chance(smoke):
    """The shipped smoke experiment's best row is significantly above both chance rows."""
    tmp, first = smoke
    line = next(s for s in first.stdout.splitlines() if s.startswith("1 "))
    assert "timm arch=" in line and " above (p " in line and "not above" not in line


def test_stored_metrics_equal_sklearn(smoke):
    tmp, _ = smoke
    run = load_run(tmp / "runs" / "smoke")
    assert len(run.done()) == 4
    for cell in run.done():
        for split in ("val", "test"):
            frame = run.predictions(cell.id, split)
            assert list(frame.columns) == ["sample_id", "label", "prob_normal", "prob_defect"]
            y, proba = frame["label"].to_numpy(), frame[["prob_normal", "prob_defect"]].to_numpy()
            pred = proba.argmax(axis=1)
            report = classification_report(y, pred, labels=[0, 1], target_names=["normal", "defect"],
                                           output_dict=True, zero_division=0)
            m = cell.metrics
            for name in ("normal", "defect"):
                assert m[f"{split}.precision_{name}"] == pytest.approx(report[name]["precision"], abs=1e-12)
                assert m[f"{split}.recall_{name}"] == pytest.approx(report[name]["recall"], abs=1e-12)
                assert m[f"{split}.f1_{name}"] == pytest.approx(report[name]["f1-score"], abs=1e-12)
                assert m[f"{split}.support_{name}"] == report[name]["support"]
            assert m[f"{split}.accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
            assert m[f"{split}.f1_macro"] == pytest.approx(f1_score(y, pred, average="macro"), abs=1e-12)
            assert m[f"{split}.auroc"] == pytest.approx(roc_auc_score(y, proba[:, 1]), abs=1e-12)
            np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_rerun_skips_every_cell(smoke):
    tmp, _ = smoke
    run_dir = tmp / "runs" / "smoke"
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("metrics.json")}
    board_files = [p for p in (tmp / "lb" / "smoke").rglob("*") if p.is_file()]
    drawn = {p: p.stat().st_mtime_ns for p in board_files}
    again = harness(*run_args(REPO / "experiments" / "smoke.toml", tmp), cwd=tmp)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("skipped (done)") == 4
    assert "epoch 1/" not in again.stdout
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("metrics.json")} == before
    assert {p: p.stat().st_mtime_ns for p in board_files} == drawn  # the unchanged leaderboard is not redrawn
    assert again.stdout.count("chance: stratified") == 1  # the recorded table is printed again


def test_same_seed_same_metrics(smoke, tmp_path):
    tmp, _ = smoke
    fresh = harness(*run_args(REPO / "experiments" / "smoke.toml", tmp_path), cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    old, new = load_run(tmp / "runs" / "smoke"), load_run(tmp_path / "runs" / "smoke")
    assert old.cells.keys() == new.cells.keys()
    for cell_id, cell in old.cells.items():
        assert cell.metrics["test.f1_macro"] == new.cells[cell_id].metrics["test.f1_macro"]
        assert cell.history[-1]["train.loss"] == new.cells[cell_id].history[-1]["train.loss"]


def test_failing_cell_is_recorded_and_the_rest_complete(tiny_experiment, tmp_path):
    path = tiny_experiment("""
        [[matrix.model]]
        plugin = ["toy-cnn", "toy-exploding"]
        """, name="failing")
    proc = harness(*run_args(path, tmp_path), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED: RuntimeError: toy model exploded on purpose" in proc.stdout
    run = load_run(tmp_path / "runs" / "failing")
    statuses = {c.config["model"]["plugin"]: c for c in run.cells.values()}
    assert statuses["toy-cnn"].status == "done"
    assert statuses["toy-exploding"].status == "failed"
    assert statuses["toy-exploding"].reason == "RuntimeError: toy model exploded on purpose"
    results = json.loads((tmp_path / "lb" / "failing" / "results.json").read_text())
    assert [f["reason"] for f in results["failed"]] == ["RuntimeError: toy model exploded on purpose"]
    assert "toy model exploded on purpose" in (tmp_path / "lb" / "failing" / "index.html").read_text()


def test_kill_minus_9_then_resume(tiny_experiment, tmp_path):
    path = tiny_experiment("""
        [[matrix.model]]
        plugin = "toy-cnn"
        width = [4, 6, 8]
        """, name="killed", seeds="[0, 1]", epochs=3)
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *run_args(path, tmp_path, "--no-progress")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    run_dir = tmp_path / "runs" / "killed"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and len(list(run_dir.glob("*/status.json"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.parent.name for p in run_dir.glob("*/status.json")}
    assert 2 <= len(done_before) < 6
    resumed = harness(*run_args(path, tmp_path), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    skipped = {line.split("] ")[1].split(":")[0] for line in resumed.stdout.splitlines() if "skipped (done)" in line}
    assert skipped == done_before
    run = load_run(run_dir)
    assert len(run.done()) == 6 and len(run.cells) == 6
    assert not [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]
    for cell in run.done():
        assert len(cell.history) == 3
        assert len(run.predictions(cell.id, "test")) == 16
        json.loads((cell.path / "config.json").read_text())


def test_plugins_command_lists_origins(tmp_path):
    proc = harness("plugins", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert lines["toy"].split()[1:4] == ["harness-toy-plugin", "0.3.1", "entry"]
    assert "models: toy-cnn, toy-exploding" in lines["toy"]
    assert "models: convnext-attention, timm" in lines["harness_timm"]
    assert "datasets: " in proc.stdout and "synthetic-defects" in proc.stdout and "csv" in proc.stdout
    assert "losses: ce, focal, weighted_ce" in proc.stdout
    assert "optimizers: adam, adamw, sgd" in proc.stdout

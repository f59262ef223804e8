"""An interrupted cell continues from its last finished epoch and ends exactly as an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from harness import load_run

pytestmark = pytest.mark.slow
TIMING = ("seconds", "train_seconds", "test.infer_seconds", "test.images_per_second", "test.latency_ms",
          "test.latency_iqr_ms", "test.latency_unstable")


def run(path, runs, *extra, wait=True):
    args = [sys.executable, "-m", "harness.cli", "run", str(path), "--runs-dir", str(runs), "--leaderboards-dir",
            str(runs.parent / "lb"), "--no-progress", *extra]
    if wait:
        return subprocess.run(args, capture_output=True, text=True, timeout=900)
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def strip(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in TIMING}


def test_interrupted_cell_resumes_with_identical_results(tiny_experiment, tmp_path):
    path = tiny_experiment("""
        [[matrix.model]]
        plugin = "toy-cnn"
        width = 24
        """, name="resume", epochs=5, train="resume_every = 0")
    proc = run(path, tmp_path / "killed", wait=False)
    deadline = time.monotonic() + 600
    resume = None
    while time.monotonic() < deadline and resume is None:
        resume = next((tmp_path / "killed").glob("resume/*/resume.pt"), None)
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert resume is not None and not (resume.parent / "status.json").exists()
    again = run(path, tmp_path / "killed")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "continuing from its last finished epoch" in again.stdout
    first_epoch = int(again.stdout.split("epoch ")[1].split("/")[0])
    assert first_epoch >= 2  # epochs already finished were not trained again
    straight = run(path, tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr
    (resumed,) = load_run(tmp_path / "killed" / "resume").done()
    (clean,) = load_run(tmp_path / "straight" / "resume").done()
    assert [strip(h) for h in resumed.history] == [strip(h) for h in clean.history]
    assert strip(resumed.metrics) == strip(clean.metrics)
    assert not (resumed.path / "resume.pt").exists()
    for split in ("val", "test"):
        assert (resumed.path / f"predictions_{split}.csv").read_text() == (clean.path / f"predictions_{split}.csv").read_text()
    assert json.loads((resumed.path / "status.json").read_text())["status"] == "done"

"""Helpers for the multi-worker tests: run ``harness`` for real, compare what runs stored."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

EXPERIMENT = """
[experiment]
name = "{name}"
seeds = [0, 1, 2, 3]

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = 256
n_val = 32
n_test = 32

[train]
epochs = {epochs}
batch_size = 32
optimizer = {{ name = "adam", lr = 1e-2 }}
resume_every = 0

[[matrix.model]]
plugin = "toy-cnn"
width = [4, 8]
"""


def harness_cmd(file: Path, runs: Path, board: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", "run", str(file), "--runs-dir", str(runs), "--leaderboards-dir",
            str(board), "--no-progress", *extra]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", **extra}


def run(file: Path, runs: Path, board: Path, *extra: str, cwd: Path, timeout: float = 600,
        **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(harness_cmd(file, runs, board, *extra), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env(**kwargs))


def training_starts(output: str) -> dict[str, int]:
    """How many times each cell began training: its ``epoch 1/N`` lines."""
    counts: dict[str, int] = {}
    for cell in re.findall(r"\] (\S+?)(?: \([^)]*\))?: epoch 1/\d+ ", output):
        counts[cell] = counts.get(cell, 0) + 1
    return counts


def _timing(key: str) -> bool:
    return any(word in key for word in ("seconds", "latency", "images_per_second"))


def cell_metrics(root: Path) -> dict[str, dict[str, float]]:
    """Every done cell's metrics, timings left out (they differ from run to run by nature)."""
    out = {}
    for path in sorted(root.glob("*/metrics.json")):
        status = json.loads((path.parent / "status.json").read_text())
        assert status["status"] == "done", (path.parent.name, status)
        out[path.parent.name] = {k: v for k, v in json.loads(path.read_text()).items() if not _timing(k)}
    return out


def board_rows(board: Path) -> list[tuple[str, tuple[str, ...], dict[str, float]]]:
    """The leaderboard's rows in rank order: row name, its cells, mean of every non-timing metric."""
    results = json.loads((board / "results.json").read_text())
    rows = []
    for r in results["rows"]:
        means = {k: v["mean"] for k, v in r["metrics"].items() if not _timing(k) and isinstance(v, dict)}
        rows.append((r["row"], tuple(r["cells"]), means))
    return rows


def assert_same_results(a_runs: Path, a_board: Path, b_runs: Path, b_board: Path) -> None:
    ma, mb = cell_metrics(a_runs), cell_metrics(b_runs)
    assert sorted(ma) == sorted(mb)
    for cell in ma:
        assert ma[cell].keys() == mb[cell].keys()
        for key, value in ma[cell].items():
            if isinstance(value, (int, float)) and isinstance(mb[cell][key], (int, float)):
                assert math.isclose(value, mb[cell][key], rel_tol=0, abs_tol=1e-6), (cell, key, value, mb[cell][key])
            else:
                assert value == mb[cell][key], (cell, key, value, mb[cell][key])
    ra, rb = board_rows(a_board), board_rows(b_board)
    assert [(r[0], r[1]) for r in ra] == [(r[0], r[1]) for r in rb]
    for (_, _, x), (_, _, y) in zip(ra, rb):
        assert x.keys() == y.keys()
        for key in x:
            if x[key] is None or y[key] is None:  # a mean over no finite value is stored as null
                assert x[key] == y[key], (key, x[key], y[key])
            else:
                assert math.isclose(x[key], y[key], rel_tol=0, abs_tol=1e-6), (key, x[key], y[key])

"""Slices on a real run over an MVTec-layout folder: per-defect-type metrics equal scikit-learn's."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import accuracy_score

from harness import load_run

SIZE = 16


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _mvtec(root: Path) -> Path:
    rng = np.random.default_rng(0)
    cat = root / "widget"

    def image(level: int) -> np.ndarray:
        return np.clip(level + rng.normal(0, 12, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)

    for i in range(24):
        _save(cat / "train" / "good" / f"{i:03d}.png", image(120))
    for i in range(10):
        _save(cat / "test" / "good" / f"{i:03d}.png", image(120))
    for kind, level, n in (("crack", 40, 10), ("hole", 200, 8)):
        for i in range(n):
            _save(cat / "test" / kind / f"{i:03d}.png", image(level))
            mask = np.zeros((SIZE, SIZE), np.uint8)
            mask[4:8, 4:8] = 255
            _save(cat / "ground_truth" / kind / f"{i:03d}_mask.png", mask)
    return root


@pytest.mark.slow
def test_per_defect_type_metrics_equal_sklearn_on_the_subset(tmp_path: Path) -> None:
    data = _mvtec(tmp_path / "mvtec")
    (tmp_path / "slices.toml").write_text(textwrap.dedent(f"""
        [experiment]
        name = "slices"
        seeds = [0, 1]
        rank_by = "test.accuracy"
        slice_by = ["defect_type", "category"]

        [dataset]
        plugin = "mvtec"
        root = "{data}"
        category = "widget"
        image_size = {SIZE}

        [train]
        epochs = 3
        batch_size = 8
        optimizer = {{ name = "adam", lr = 1e-2 }}

        [[matrix.model]]
        plugin = "toy-cnn"
        width = 4
        """).lstrip())
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "slices.toml", "--runs-dir", "runs",
                           "--leaderboards-dir", "lb", "--no-progress"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = load_run(tmp_path / "runs" / "slices")
    cells = sorted(run.cells)
    with (run.cells[cells[0]].path / "meta_test.csv").open() as f:
        meta = {line["sample_id"]: line for line in csv.DictReader(f)}
    results = json.loads((tmp_path / "lb" / "slices" / "results.json").read_text())
    by_type, by_category = results["decisions"]["slices"]
    assert by_type["slices"] == ["crack", "good", "hole"] and by_category["slices"] == ["widget"]
    (row,) = [r for r in by_type["rows"] if r["row"] == "toy-cnn"]
    frames = [run.predictions(c, "test") for c in cells]
    for level, cell in zip(by_type["slices"], row["cells"]):
        expected = []
        for f in frames:
            pick = np.array([meta[s]["defect_type"] == level for s in f["sample_id"]])
            predicted = f[["prob_normal", "prob_defect"]].to_numpy().argmax(axis=1)
            expected.append(accuracy_score(f["label"][pick], predicted[pick]))
        assert cell["n"] == int(pick.sum()) > 0
        assert cell["point"] == pytest.approx(np.mean(expected), abs=1e-12)
        assert cell["low"] <= cell["point"] <= cell["high"]
    overall = next(r for r in results["rows"] if r["row"] == "toy-cnn")["metrics"]["test.accuracy"]["mean"]
    assert by_category["rows"][0]["cells"][0]["point"] == pytest.approx(overall, abs=1e-12)
    assert "Slices by <code>defect_type</code>" in (tmp_path / "lb" / "slices" / "index.html").read_text()

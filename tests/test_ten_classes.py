"""A real 10-class image dataset (scikit-learn's digits) through the `folder` plugin, end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from harness import load_run
from harness.leaderboard.figures.wrong import row_slug

pytestmark = pytest.mark.slow
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def test_folder_with_ten_classes_runs_end_to_end(write_toml, tmp_path):
    digits = load_digits()
    root = tmp_path / "digits"
    for i, (image, label) in enumerate(zip(digits.images[:600], digits.target[:600])):
        folder = root / NAMES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255 / 16).astype(np.uint8)).save(folder / f"{i:04d}.png")
    path = write_toml(f"""
        [experiment]
        name = "digits"
        rank_by = "test.accuracy"

        [dataset]
        plugin = "folder"
        root = "{root}"
        image_size = 16
        val_ratio = 0.2
        test_ratio = 0.2

        [train]
        epochs = 8
        batch_size = 32
        optimizer = {{ name = "adamw", lr = 3e-3 }}
        augment = {{}}

        [[matrix.model]]
        plugin = "timm"
        arch = "resnet10t"
        """)
    env_cache = {"HARNESS_CACHE_DIR": str(tmp_path / "cache")}
    import os

    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(path), "--runs-dir", str(tmp_path / "runs"),
                           "--leaderboards-dir", str(tmp_path / "lb"), "--no-progress"], capture_output=True,
                          text=True, timeout=900, env={**os.environ, **env_cache})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (cell,) = load_run(tmp_path / "runs" / "digits").done()
    assert cell.classes == tuple(sorted(NAMES))
    assert sum(cell.metrics[f"test.support_{name}"] for name in NAMES) == 120
    assert cell.metrics["test.accuracy"] > 0.5  # far above the 0.1 of chance
    results = json.loads((tmp_path / "lb" / "digits" / "results.json").read_text())
    metrics = results["rows"][0]["metrics"]
    assert all(f"test.f1_{name}" in metrics for name in NAMES)
    (model,) = [r["row"] for r in results["rows"] if r["kind"] == "model"]
    html = (tmp_path / "lb" / "digits" / "rows" / f"{row_slug(model)}.html").read_text()  # the model row's page
    for name in NAMES:
        assert f">{name}<" in html  # a per-class table row for each of the ten classes
    assert html.count("data:image/png;base64") >= 2  # confusion matrix and curves at least

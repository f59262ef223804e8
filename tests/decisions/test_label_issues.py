"""Label issues on a real run: three test images filed under the wrong class are found."""

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

pytest.importorskip("cleanlab")

SIZE = 16
FLIPPED = ("test/blue/red_flip0.png", "test/blue/red_flip1.png", "test/blue/red_flip2.png")


def _image(path: Path, colour: str, rng: np.random.Generator) -> None:
    base = np.array([200, 30, 30] if colour == "red" else [30, 30, 200], dtype=np.float64)
    pixels = np.clip(base + rng.normal(0, 25, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _folder(root: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("val", 12), ("test", 20)):
        for colour in ("red", "blue"):
            for i in range(n):
                _image(root / split / colour / f"{colour}{i:03d}.png", colour, rng)
    for name in FLIPPED:  # red images filed as blue
        _image(root / name, "red", rng)


@pytest.mark.slow
def test_three_flipped_labels_lead_the_gallery(tmp_path: Path) -> None:
    _folder(tmp_path / "data")
    (tmp_path / "labels.toml").write_text(textwrap.dedent(f"""
        [experiment]
        name = "labels"
        seeds = [0, 1]
        rank_by = "test.accuracy"
        label_issues = true

        [dataset]
        plugin = "folder"
        root = "{tmp_path / 'data'}"
        image_size = {SIZE}

        [train]
        epochs = 10
        batch_size = 16
        optimizer = {{ name = "adam", lr = 2e-2 }}
        augment = {{}}

        [[matrix.model]]
        plugin = "toy-cnn"
        width = 8
        """).lstrip())
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "labels.toml", "--runs-dir", "runs",
                           "--leaderboards-dir", "lb", "--no-progress"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    board = tmp_path / "lb" / "labels"
    table = json.loads((board / "results.json").read_text())["decisions"]["label_issues"]
    top = [e["sample_id"] for e in table["splits"]["test"]["issues"][:5]]
    assert set(FLIPPED) <= {s.replace("\\", "/") for s in top}, top
    flagged = {e["sample_id"]: e for e in table["splits"]["test"]["issues"]}
    assert all(flagged[s]["given"] == "blue" and flagged[s]["suggested"] == "red" for s in FLIPPED)
    assert all(flagged[s]["wrong_share"] == 1.0 for s in FLIPPED) and any(flagged[s]["flagged"] for s in FLIPPED)
    with (board / "label_issues.csv").open() as f:
        lines = list(csv.DictReader(f))
    assert {line["sample_id"] for line in lines if line["split"] == "test"} == set(flagged)
    html = (board / "index.html").read_text()
    gallery = html[html.index('id="label-issues"'):]
    assert all(gallery.index(s) > 0 for s in FLIPPED)
    assert gallery.count("<img") >= 3  # the flipped images are confidently wrong, so their thumbnails are stored

"""Unreadable images left out with on_corrupt = "skip" are recorded in the run and counted on
the leaderboard; a class too small for every split is a clear error."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from harness import HarnessError
from harness.config import load_experiment
from harness.runner import publish, run_experiment
from harness_datasets.folder import folder

SIZE = 16


def _tree(root, counts: dict[str, int]) -> None:
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(root / name / f"{i}.png")


def test_skipped_images_are_in_skipped_csv_and_on_the_leaderboard(tmp_path, plugins, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "data"
    _tree(data, {"good": 10, "bad": 10})
    (data / "good" / "broken.png").write_bytes(b"not an image at all")
    path = tmp_path / "skip.toml"
    path.write_text(f"""
[experiment]
name = "skip"
[dataset]
plugin = "folder"
root = "{data}"
image_size = {SIZE}
on_corrupt = "skip"
[train]
epochs = 1
batch_size = 8
[[matrix.model]]
plugin = "toy-cnn"
width = 4
""")
    experiment = load_experiment(path, plugins)
    with pytest.warns(UserWarning, match="skipped 1 file"):
        the_plan, root = run_experiment(experiment, plugins, runs_dir=tmp_path / "runs", show_progress=False,
                                        echo=lambda s: None)
    cell = root / the_plan.cells[0].id
    rows = list(csv.DictReader((cell / "skipped.csv").open()))
    assert len(rows) == 1 and rows[0]["file"] == str(data / "good" / "broken.png")
    assert rows[0]["split"] in ("train", "val", "test") and rows[0]["reason"].startswith("UnidentifiedImageError")
    publish(experiment, the_plan, root, plugins, tmp_path / "boards" / "skip", echo=lambda s: None)
    page = (tmp_path / "boards" / "skip" / "index.html").read_text()
    assert ("1 image could not be read and was left out (on_corrupt = &#34;skip&#34;); each cell lists them in "
            "skipped.csv.") in page


def test_a_class_too_small_for_every_split_is_a_clear_error(tmp_path):
    data = tmp_path / "data"
    _tree(data, {"normal": 8, "scratch": 8, "rare": 1})
    with pytest.raises(HarnessError) as info:
        folder(image_size=SIZE, root=str(data))
    message = str(info.value)
    assert message.startswith("too few images to split every class into train, ")
    assert "(each class needs at least 3)" in message and "rare" in message and "has 1" in message

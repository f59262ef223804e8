"""CATS and GAIN-MTL through a whole run: stored maps, localisation metrics, overlays on the page."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from harness import load_run

pytestmark = pytest.mark.slow


def test_cats_and_gain_store_maps_and_show_overlays(tiny_experiment, tmp_path):
    path = tiny_experiment("""
        [[matrix.model]]
        plugin = "cats"
        img_size = 32
        patch_size = 16

        [[matrix.model]]
        plugin = "gain-mtl"
        strategy = ["S1", "S6"]
        backbone = "mobilenetv3_small_050"
        fpn_channels = 16
        hidden = 32
        head_channels = 16
        """, name="maps", epochs=4)
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(path), "--runs-dir", str(tmp_path / "runs"),
                           "--leaderboards-dir", str(tmp_path / "lb"), "--no-progress"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = load_run(tmp_path / "runs" / "maps")
    cells = {c.row: c for c in run.done()}
    assert set(cells) == {"cats", "gain-mtl strategy=S1", "gain-mtl strategy=S6"}

    cats = run.prediction_set(cells["cats"].id, "test")
    assert set(cats.maps) == {"attention"} and cats.maps["attention"].shape == (16, 32, 32)
    gain = run.prediction_set(cells["gain-mtl strategy=S6"].id, "test")
    assert set(gain.maps) == {"cam", "attention", "localization"}
    assert gain.masks.shape == (16, 32, 32) and gain.has_mask.all()
    # the ground-truth masks stored beside the maps are the dataset's own, resized to the map size
    defects = gain.labels == 1
    assert gain.masks[defects].reshape(defects.sum(), -1).max(axis=1).min() == 1
    assert gain.masks[~defects].max() == 0
    for key in ("test.cam_iou", "test.pointgame", "test.energy_inside", "test.loc_iou", "test.loc_dice",
                "test.loc_pixel_acc"):
        value = cells["gain-mtl strategy=S6"].metrics[key]
        assert 0.0 <= value <= 1.0, key
    assert "test.cam_iou" not in cells["cats"].metrics  # localisation metrics only where maps and masks exist
    assert np.isfinite(cells["gain-mtl strategy=S1"].metrics["test.f1_macro"])

    results = json.loads((tmp_path / "lb" / "maps" / "index.html").with_name("results.json").read_text())
    gain_row = next(r for r in results["rows"] if r["row"] == "gain-mtl strategy=S6")
    assert "test.loc_iou" in gain_row["metrics"]
    html = (tmp_path / "lb" / "maps" / "index.html").read_text()
    for row in ("cats", "gain-mtl strategy=S1", "gain-mtl strategy=S6"):
        section = html.split(f">{row}<", 1)
        assert len(section) == 2, row
    pages = "".join(p.read_text() for p in sorted((tmp_path / "lb" / "maps" / "rows").glob("*.html")))
    for cell in cells.values():  # an overlay grid of thumbnails, maps and masks on each row's page
        assert f'alt="test maps of {cell.id} (seed 0)"' in pages and "test maps of" not in html

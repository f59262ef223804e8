"""A run records each model's preprocessing in config.json and uses it: a Lite0 row is 0.5/0.5."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from harness import Preprocessing, load_run
from harness.config import load_experiment
from harness.runner import run_experiment
from harness.train.evaluate import predict
from harness.train.tensors import Normalizer, eval_tensors

EXPERIMENT = """
[experiment]
name = "prep"
seeds = [0]

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = 16
n_val = 8
n_test = 8

[train]
epochs = 1
batch_size = 8
optimizer = { name = "adam", lr = 1e-3 }
scheduler = "cosine"

[[matrix.model]]
plugin = "timm"
arch = "tf_efficientnet_lite0"
pretrained = true
crop_pct = [0.875, 1.0]

[[matrix.model]]
plugin = "toy-cnn"
width = 8
"""


@pytest.fixture(scope="module")
def finished(tmp_path_factory, plugins):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("prep")
    path = tmp / "prep.toml"
    path.write_text(EXPERIMENT, encoding="utf-8")
    experiment = load_experiment(path, plugins)
    the_plan, root = run_experiment(experiment, plugins, runs_dir=tmp / "runs", show_progress=False,
                                    echo=lambda line: None)
    return experiment, the_plan, load_run(root)


def _cell(run, crop: float | None):
    for cell in run.done():
        model = cell.config["model"]
        if (crop is None and model["plugin"] == "toy-cnn") or model.get("crop_pct") == crop:
            return cell
    raise AssertionError(f"no finished cell with crop_pct {crop}: {[c.id for c in run.cells.values()]}")


def test_lite0_rows_record_half_mean_and_std(finished):
    _, _, run = finished
    assert len(run.done()) == 3
    recorded = json.loads((_cell(run, 0.875).path / "config.json").read_text())["preprocessing"]
    assert recorded == {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "interpolation": "bicubic",
                        "crop_pct": 0.875, "input_size": [3, 32, 32]}
    assert _cell(run, 1.0).config["preprocessing"]["crop_pct"] == 1.0
    # a model plugin that declares nothing: ImageNet mean/std, bilinear, whole images
    toy = _cell(run, None).config["preprocessing"]
    assert toy["mean"] == [0.485, 0.456, 0.406] and toy["std"] == [0.229, 0.224, 0.225]
    assert (toy["interpolation"], toy["crop_pct"]) == ("bilinear", 1.0)


def test_preprocessing_enters_the_cell_key(finished, plugins):
    _, the_plan, run = finished
    keys = {c.config["model"].get("crop_pct"): c.key for c in the_plan.cells}
    assert len(set(keys.values())) == 3
    cell = the_plan.cells[0]
    other = {**cell.config, "preprocessing": {**cell.config["preprocessing"], "mean": [0.485, 0.456, 0.406]}}
    from harness.matrix import CellSpec, make_cell

    assert make_cell(CellSpec(other, {}), "fp", plugins.versions()).key != \
        make_cell(CellSpec(cell.config, {}), "fp", plugins.versions()).key


@pytest.mark.parametrize("crop", [0.875, 1.0])
def test_stored_test_predictions_are_those_of_the_recorded_preprocessing(finished, plugins, crop):
    experiment, the_plan, run = finished
    cell = _cell(run, crop)
    dataset = the_plan.datasets[the_plan.dataset_of[cell.id]]
    options = {k: v for k, v in cell.config["model"].items() if k != "plugin"}
    model = plugins.registry("models").get("timm")(num_classes=2, **options)
    model.load_state_dict(load_file(cell.path / "checkpoint.safetensors"))
    stored = run.predictions(cell.id, "test")[["prob_normal", "prob_defect"]].to_numpy()

    def proba(prep: Preprocessing) -> np.ndarray:
        pred, _ = predict(model, eval_tensors(dataset.test, prep), dataset.classes, batch_size=8,
                          normalize=Normalizer(None, prep), device=torch.device("cpu"))
        return pred.proba

    recorded = Preprocessing.from_config(cell.config)
    np.testing.assert_allclose(proba(recorded), stored, atol=1e-6)
    imagenet = Preprocessing(crop_pct=recorded.crop_pct, interpolation=recorded.interpolation)
    assert np.abs(proba(imagenet) - stored).max() > 1e-3  # ImageNet constants would have predicted otherwise

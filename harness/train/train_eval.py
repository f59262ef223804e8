"""Train-split metrics beside validation, and per-class loss and accuracy of both.

At the end of every epoch a fixed subset of the training split (``[train]
train_eval_samples`` images, drawn once from the cell's seed) is scored exactly as
validation is: evaluation preprocessing, no augmentation, the model in eval mode, the
configured loss. Its metrics land in ``history.json`` as ``train_eval.<metric>`` beside
``val.<metric>``, so train and validation curves compare like with like (``train.loss``
is the running loss under augmentation and dropout, which is not). Both splits also get
``accuracy_<class>`` (the share of the class's samples predicted as that class) and
``loss_<class>`` (the mean loss over the class's samples).

Scoring the subset draws no random numbers and leaves BatchNorm statistics alone, so the
trained weights are the same with or without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from harness.data import Split
from harness.predictions import PredictionSet
from harness.train.evaluate import compute_metrics, predict
from harness.train.tensors import Normalizer, SplitTensors

PREFIX = "train_eval"  # history keys of the training subset
SPLIT = "train"  # predictions_train.csv: the subset, scored with the selected weights
DEFAULT_SAMPLES = 1024


def train_subset(split: Split, samples: int, seed: int) -> Split | None:
    """The fixed part of ``split`` scored every epoch: ``samples`` images in split order.

    Args:
        split: the training split.
        samples: how many (0: none; at least the split's size: all of it).
        seed: the cell's seed; a numpy generator of its own, so training's random
            streams are untouched.

    Returns:
        The subset, or None when ``samples`` is 0 or the split is empty.
    """
    n = len(split)
    if samples <= 0 or n == 0:
        return None
    if samples >= n:
        return split
    index = np.sort(np.random.default_rng(seed).choice(n, size=samples, replace=False))
    return Split(
        images=split.images[index],
        labels=np.asarray(split.labels)[index],
        sample_ids=tuple(split.sample_ids[i] for i in index),
        masks=split.masks[index] if split.masks is not None else None,
        has_mask=np.asarray(split.has_mask)[index] if split.has_mask is not None else None,
        meta=tuple(split.meta[i] for i in index) if split.meta is not None else None,
    )


class ClassLosses:
    """The configured loss, also summed per true class over the batches it scores.

    Called by :func:`harness.train.evaluate.predict` in place of the loss; the loss of
    a class is the loss function on that class's samples of the batch (a mean-reduced
    loss gives their mean, class weights cancel within one class).
    """

    def __init__(self, loss_fn: Callable[..., torch.Tensor], num_classes: int):
        self.loss_fn = loss_fn
        self.sums = np.zeros(num_classes)
        self.counts = np.zeros(num_classes)

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        for k in torch.unique(labels).tolist():
            chosen = labels == k
            n = int(chosen.sum())
            self.sums[k] += float(self.loss_fn(logits[chosen], labels[chosen])) * n
            self.counts[k] += n
        return self.loss_fn(logits, labels)

    def means(self) -> np.ndarray:
        """``[K]`` mean loss per class, NaN for a class without samples."""
        out = np.full(len(self.sums), np.nan)
        np.divide(self.sums, self.counts, out=out, where=self.counts > 0)
        return out


def class_accuracy(pred: PredictionSet) -> np.ndarray:
    """``[K]`` share of each class's samples predicted as that class (NaN without samples)."""
    k = len(pred.classes)
    predicted = pred.proba.argmax(axis=1)
    counts = np.bincount(pred.labels, minlength=k).astype(np.float64)
    right = np.bincount(pred.labels[predicted == pred.labels], minlength=k).astype(np.float64)
    out = np.full(k, np.nan)
    np.divide(right, counts, out=out, where=counts > 0)
    return out


def score_split(
    model: torch.nn.Module,
    data: SplitTensors,
    classes: tuple[str, ...],
    prefix: str,
    *,
    loss_fn: Callable[..., torch.Tensor],
    metric_fns: list[Callable[[PredictionSet], dict[str, float]]],
    batch_size: int,
    normalize: Normalizer,
    device: torch.device,
    num_epochs: int,
) -> tuple[PredictionSet, dict[str, float]]:
    """Predict ``data`` and return ``<prefix>.loss``, every metric family and the per-class scores."""
    losses = ClassLosses(loss_fn, len(classes))
    pred, loss = predict(model, data, classes, batch_size=batch_size, normalize=normalize, device=device,
                         loss_fn=losses, num_epochs=num_epochs)
    logs: dict[str, float] = {f"{prefix}.loss": loss, **compute_metrics(pred, metric_fns, prefix)}
    for name, acc, class_loss in zip(classes, class_accuracy(pred), losses.means()):
        logs[f"{prefix}.accuracy_{name}"] = float(acc)
        logs[f"{prefix}.loss_{name}"] = float(class_loss)
    return pred, logs


def subset_tensors(split: Split, train: dict[str, Any], seed: int, preprocessing: Any) -> SplitTensors | None:
    """The scored training subset as the model sees it at evaluation, or None when turned off."""
    from harness.train.tensors import eval_tensors

    subset = train_subset(split, int(train.get("train_eval_samples", DEFAULT_SAMPLES)), seed)
    return None if subset is None else eval_tensors(subset, preprocessing)

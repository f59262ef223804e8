"""Classification metrics from labels and probabilities, in plain numpy.

Everything is derived from one confusion matrix (rows = true class, columns = predicted
class), so the numbers agree with each other by construction. Conventions follow
scikit-learn with ``zero_division=0``: a ratio whose denominator is zero is ``0.0``.
Macro averages run over every class of the dataset, including a class that is absent
from the labels (its recall is then ``0.0``); balanced accuracy averages recall over the
classes that do occur, as scikit-learn's ``balanced_accuracy_score`` does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from harness.errors import HarnessError

_LOWER_WORDS = {"loss", "ece", "brier"}


def lower_is_better(metric: str) -> bool:
    """Whether smaller values of ``metric`` are better.

    True for losses, calibration errors and timings: a name with a ``loss``, ``ece`` or
    ``brier`` word (words split at ``.`` and ``_``, so a class called ``piece`` does not
    count) or ending in ``seconds``.
    """
    words = set(re.split(r"[._]", metric.lower()))
    return bool(words & _LOWER_WORDS) or metric.lower().endswith("seconds")


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Count true/predicted pairs.

    Args:
        labels: ``[N]`` true class indices in ``[0, num_classes)``.
        predicted: ``[N]`` predicted class indices in ``[0, num_classes)``.
        num_classes: ``K``.

    Returns:
        ``[K, K]`` int64 counts; entry ``[i, j]`` is the number of samples of class ``i``
        predicted as ``j``.

    Raises:
        HarnessError: the arrays differ in length or hold an index outside the classes.
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    predicted = np.asarray(predicted, dtype=np.int64).ravel()
    if labels.shape != predicted.shape:
        raise HarnessError(f"{len(labels)} labels but {len(predicted)} predictions")
    for name, values in (("label", labels), ("prediction", predicted)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise HarnessError(f"a {name} lies outside the {num_classes} classes: {values.min()}..{values.max()}")
    flat = np.bincount(labels * num_classes + predicted, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` elementwise, ``0.0`` where ``den`` is zero."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def per_class_scores(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support of every class.

    Args:
        cm: ``[K, K]`` confusion matrix from :func:`confusion_matrix`.

    Returns:
        ``precision``, ``recall``, ``f1`` and ``support``, each a ``[K]`` float64 array.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)  # tp + fp
    support = cm.sum(axis=1)  # tp + fn
    return {
        "precision": _ratio(tp, predicted),
        "recall": _ratio(tp, support),
        # 2tp / (2tp + fp + fn): defined even when precision or recall is 0/0
        "f1": _ratio(2 * tp, predicted + support),
        "support": support,
    }


def _midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with tied values sharing the mean of their ranks."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # ranks taken by smaller values
    return (first + (counts + 1) / 2.0)[inverse]


def roc_auc(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of one binary problem.

    Computed as the Mann-Whitney statistic (the chance that a random positive scores
    above a random negative, ties counting one half), which equals the trapezoidal
    area under the ROC curve.

    Args:
        is_positive: ``[N]`` booleans (or 0/1), the positive samples.
        scores: ``[N]`` scores, higher meaning more positive.

    Returns:
        The AUC, or NaN when the samples are all positive or all negative.
    """
    is_positive = np.asarray(is_positive).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    n_pos = int(is_positive.sum())
    n_neg = is_positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = _midranks(scores)[is_positive].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_auc_ovr(labels: np.ndarray, proba: np.ndarray) -> float:
    """ROC AUC of a classifier: binary or one-vs-rest macro.

    Args:
        labels: ``[N]`` true class indices.
        proba: ``[N, K]`` class probabilities.

    Returns:
        With ``K == 2``, the AUC of class 1's probability; with more classes, the mean
        of each class's one-vs-rest AUC. NaN when any class is absent from ``labels``.
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape[1] == 2:
        return roc_auc(labels == 1, proba[:, 1])
    aucs = [roc_auc(labels == k, proba[:, k]) for k in range(proba.shape[1])]
    return float(np.mean(aucs))  # NaN propagates from an absent class


def classification_metrics(labels: np.ndarray, proba: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """Every classification metric of one prediction set.

    Args:
        labels: ``[N]`` true class indices.
        proba: ``[N, K]`` class probabilities; the prediction is the argmax (first
            class on ties).
        classes: ``K`` class names, used in the per-class keys.

    Returns:
        ``accuracy``, ``balanced_accuracy``, ``precision_<class>``, ``recall_<class>``,
        ``f1_<class>``, ``support_<class>``, ``precision_macro``, ``recall_macro``,
        ``f1_macro``, ``f1_weighted`` and ``auroc``.

    Raises:
        HarnessError: ``proba`` does not have one column per class.
    """
    proba = np.asarray(proba, dtype=np.float64)
    num_classes = len(classes)
    if proba.ndim != 2 or proba.shape[1] != num_classes:
        raise HarnessError(f"probabilities of shape {proba.shape} do not match {num_classes} classes")
    cm = confusion_matrix(labels, proba.argmax(axis=1), num_classes)
    scores = per_class_scores(cm)
    support = scores["support"]
    present = support > 0
    out: dict[str, float] = {
        "accuracy": float(_ratio(np.trace(cm), cm.sum())),
        "balanced_accuracy": float(scores["recall"][present].mean()) if present.any() else 0.0,
    }
    for k, name in enumerate(classes):
        for key in ("precision", "recall", "f1", "support"):
            out[f"{key}_{name}"] = float(scores[key][k])
    for key in ("precision", "recall", "f1"):
        out[f"{key}_macro"] = float(scores[key].mean())
    out["f1_weighted"] = float(_ratio((scores["f1"] * support).sum(), support.sum()))
    out["auroc"] = roc_auc_ovr(labels, proba)
    return out

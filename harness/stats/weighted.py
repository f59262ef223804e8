"""Classification metrics under sample weights, many weightings at once.

The counterpart of :mod:`harness.metrics` for resamples: with integer weights ``w`` (how
often each sample was drawn) every function here returns exactly what
:func:`harness.metrics.classification_metrics` returns on the resampled test set (the
same conventions: ``zero_division=0``, macro averages over every class, balanced
accuracy over the classes present, AUROC as the Mann-Whitney statistic with ties
counting one half). With ``w = 1`` they give the plain metrics. Each takes ``[R, N]``
weights and returns ``[R]`` values, one per weighting.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` elementwise, ``0.0`` where ``den`` is zero."""
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def weighted_confusion(weights: np.ndarray, labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Weighted confusion matrices.

    Args:
        weights: ``[R, N]`` sample weights.
        labels: ``[N]`` true class indices.
        predicted: ``[N]`` predicted class indices.
        num_classes: ``K``.

    Returns:
        ``[R, K, K]``; entry ``[r, i, j]`` sums the weights of samples of class ``i``
        predicted as ``j``.
    """
    n = len(labels)
    onehot = np.zeros((n, num_classes * num_classes), dtype=np.float64)  # [N, K*K] which cell each sample counts in
    onehot[np.arange(n), np.asarray(labels) * num_classes + np.asarray(predicted)] = 1.0
    return (weights @ onehot).reshape(len(weights), num_classes, num_classes)


def confusion_scores(cm: np.ndarray, classes: Sequence[str]) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy, per-class and averaged scores of confusion matrices.

    Args:
        cm: ``[R, K, K]`` (weighted) confusion matrices, rows true classes.
        classes: ``K`` class names, for the per-class keys.

    Returns:
        ``accuracy``, ``balanced_accuracy``, ``precision_<c>``, ``recall_<c>``,
        ``f1_<c>``, ``precision_macro``, ``recall_macro``, ``f1_macro`` and
        ``f1_weighted``, each ``[R]``.
    """
    tp = np.diagonal(cm, axis1=1, axis2=2)  # [R, K]
    predicted = cm.sum(axis=1)  # [R, K] column sums: tp + fp
    support = cm.sum(axis=2)  # [R, K] row sums: tp + fn
    scores = {
        "precision": _ratio(tp, predicted),
        "recall": _ratio(tp, support),
        "f1": _ratio(2 * tp, predicted + support),
    }
    present = (support > 0).astype(np.float64)
    out = {
        "accuracy": _ratio(tp.sum(axis=1), support.sum(axis=1)),
        "balanced_accuracy": _ratio((scores["recall"] * present).sum(axis=1), present.sum(axis=1)),
    }
    for k, name in enumerate(classes):
        for key, values in scores.items():
            out[f"{key}_{name}"] = values[:, k]
    for key, values in scores.items():
        out[f"{key}_macro"] = values.mean(axis=1)
    out["f1_weighted"] = _ratio((scores["f1"] * support).sum(axis=1), support.sum(axis=1))
    return out


def weighted_auroc(weights: np.ndarray, is_positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of one binary problem under each weighting.

    The Mann-Whitney form: the weighted share of (positive, negative) pairs in which the
    positive scores higher, ties counting one half, so ties are handled exactly as
    :func:`harness.metrics.roc_auc` does. One sort and one cumulative sum serve every
    weighting: each positive counts the negative weight below its group of equal scores
    and half of the negative weight inside it.

    Args:
        weights: ``[R, N]``.
        is_positive: ``[N]`` booleans.
        scores: ``[N]`` scores.

    Returns:
        ``[R]`` AUCs, NaN where a weighting leaves no positive or no negative.
    """
    is_positive = np.asarray(is_positive, dtype=bool)
    order = np.argsort(scores, kind="stable")
    sorted_scores = np.asarray(scores)[order]
    n = sorted_scores.size
    if n == 0:
        return np.full(len(weights), np.nan)
    # each sorted position's tie group, as [first, last + 1) positions
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))
    group_start, group_end = starts[group], np.r_[starts[1:], n][group]
    # float32 holds bootstrap counts and their running sums exactly (below 2**24) at half the memory traffic
    w = weights[:, order].astype(np.float32)
    negatives = np.zeros((len(weights), n + 1), dtype=np.float32)
    np.cumsum(w * ~is_positive[order], axis=1, out=negatives[:, 1:])  # negative weight before each position
    pos = np.flatnonzero(is_positive[order])
    below = negatives[:, group_start[pos]]  # [R, P] negatives strictly below each positive's tie group
    tied = negatives[:, group_end[pos]] - below  # negatives tied with it
    num = np.einsum("rp,rp->r", w[:, pos].astype(np.float64), below + 0.5 * tied.astype(np.float64))
    den = w[:, pos].sum(axis=1, dtype=np.float64) * negatives[:, -1].astype(np.float64)
    out = np.full(len(weights), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def weighted_auroc_ovr(weights: np.ndarray, labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Binary AUROC of class 1, or the one-vs-rest macro AUROC, under each weighting."""
    if proba.shape[1] == 2:
        return weighted_auroc(weights, labels == 1, proba[:, 1])
    per_class = [weighted_auroc(weights, labels == k, proba[:, k]) for k in range(proba.shape[1])]
    return np.mean(per_class, axis=0)  # NaN propagates from a class without samples


def weighted_classification(
    weights: np.ndarray, labels: np.ndarray, proba: np.ndarray, classes: Sequence[str], *, auroc: bool = True
) -> dict[str, np.ndarray]:
    """Every metric of :func:`harness.metrics.classification_metrics` but the supports.

    Args:
        weights: ``[R, N]``.
        labels: ``[N]`` true classes.
        proba: ``[N, K]``; the prediction is the argmax (first class on ties).
        classes: ``K`` names.
        auroc: also compute the AUROC (the one costly metric).

    Returns:
        Metric name (without split prefix) to ``[R]`` values.
    """
    labels = np.asarray(labels, dtype=np.int64)
    cm = weighted_confusion(weights, labels, proba.argmax(axis=1), len(classes))
    out = confusion_scores(cm, classes)
    if auroc:
        out["auroc"] = weighted_auroc_ovr(weights, labels, proba)
    return out


def weighted_pr_counts(weights: np.ndarray, is_positive: np.ndarray,
                       scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted true and false positives of ``score >= t``, highest ``t`` first, at each
    distinct score whose group of equal scores holds a positive (the only thresholds at
    which recall can rise, so precision-weighted sums and the best F1 need no others).

    Args:
        weights: ``[R, N]``.
        is_positive: ``[N]`` booleans.
        scores: ``[N]`` scores.

    Returns:
        ``(tp, fp)``, each ``[R, T]`` for the ``T`` thresholds.
    """
    is_positive = np.asarray(is_positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], is_positive[order]
    starts = np.r_[True, ranked[1:] != ranked[:-1]]
    last = np.r_[np.flatnonzero(starts[1:]), len(ranked) - 1]  # last position of each tie group
    last = last[np.bincount(np.cumsum(starts) - 1, weights=hits, minlength=len(last)) > 0]
    # float32 holds bootstrap counts and their running sums exactly (below 2**24), as in weighted_auroc
    w = weights[:, order].astype(np.float32)
    flagged = np.cumsum(w, axis=1)[:, last].astype(np.float64)
    w[:, ~hits] = 0.0
    tp = np.cumsum(w, axis=1)[:, last].astype(np.float64)
    return tp, flagged - tp


def weighted_pr_metrics(weights: np.ndarray, is_positive: np.ndarray, scores: np.ndarray) -> dict[str, np.ndarray]:
    """Average precision and the best F1 under each weighting, from one sort and two running sums.

    ``image_aupr`` is the step-wise area ``sum_t (R_t - R_{t-1}) P_t`` over the distinct
    thresholds (:func:`harness.anomaly.metrics.image_aupr`; scikit-learn's
    ``average_precision_score`` of the resampled data); ``f1_max`` the largest
    ``F1 = 2 TP / (TP + FP + P)`` over them (:func:`harness.anomaly.metrics.f1_max`).

    Returns:
        ``{"image_aupr": [R], "f1_max": [R]}``, NaN where a weighting leaves no positive.
    """
    if not np.any(is_positive):
        return {"image_aupr": np.full(len(weights), np.nan), "f1_max": np.full(len(weights), np.nan)}
    tp, fp = weighted_pr_counts(weights, is_positive, scores)
    positives = tp[:, -1]
    gained = np.diff(tp, axis=1, prepend=0.0)  # positive weight each threshold adds
    area = (gained * _ratio(tp, tp + fp)).sum(axis=1)
    aupr, best = np.full(len(weights), np.nan), np.full(len(weights), np.nan)
    np.divide(area, positives, out=aupr, where=positives > 0)
    f1 = _ratio(2 * tp, tp + fp + positives[:, None]).max(axis=1)
    best[positives > 0] = f1[positives > 0]
    return {"image_aupr": aupr, "f1_max": best}


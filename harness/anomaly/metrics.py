"""Anomaly-detection metrics of an inspection benchmark, from scores and maps.

Image level: AUROC, AUPR (average precision) and F1-max (the best F1 over every
threshold, with that threshold) of per-image anomaly scores against "is a defect".
Pixel level: AUROC of the anomaly maps against the ground-truth masks over every pixel,
and AUPRO, the area under the per-region-overlap curve up to a false-positive-rate limit
(0.3 by default), divided by the limit, with regions as 8-connected components of the
masks (the MVTec AD protocol, as anomalib computes it).

Everything is numpy (scipy for the regions); a classifier's ``p(defect)`` serves as its score.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_FPR_LIMIT = 0.3
NORMAL_NAMES = ("normal", "good", "ok")


def defect_index(classes: tuple[str, ...] | list[str]) -> int | None:
    """The defect class of two classes: the one not named normal, good or ok (else the second); None otherwise."""
    if len(classes) != 2:
        return None
    named = [i for i, name in enumerate(classes) if name in NORMAL_NAMES]
    return 1 - (named[0] if len(named) == 1 else 0)


def _binary(labels: np.ndarray) -> np.ndarray:
    return (np.asarray(labels).reshape(-1) > 0).astype(np.int64)


def image_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of ``scores`` for ``labels`` (1 = defect), ties counted half; NaN with a single class.

    The Mann-Whitney form (average ranks), which is the trapezoidal area of the ROC curve
    that scikit-learn and torchmetrics compute; numpy only, so ``harness validate`` can
    probe the metric family without loading scikit-learn.
    """
    y = _binary(labels)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    values, inverse, counts = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]  # average 1-based rank of each tied group
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _pr_points(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and threshold at every distinct score, highest threshold first."""
    y = _binary(labels)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # the last sample of each distinct score
    tp = np.cumsum(hits)[last]
    flagged = last + 1
    return tp / flagged, tp / max(int(y.sum()), 1), ranked[last]


def image_aupr(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision: the step-wise area under the precision-recall curve (scikit-learn's)."""
    if _binary(labels).max() == 0:
        return math.nan
    precision, recall, _ = _pr_points(labels, scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def f1_max(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """The best F1 over thresholds ``score >= t`` and the smallest ``t`` reaching it."""
    if _binary(labels).max() == 0:
        return math.nan, math.nan
    precision, recall, thresholds = _pr_points(labels, scores)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = len(f1) - 1 - int(np.argmax(f1[::-1]))  # among equal F1s, the lowest threshold
    return float(f1[best]), float(thresholds[best])


def pixel_auroc(masks: np.ndarray, maps: np.ndarray) -> float:
    """ROC AUC over every pixel of every image; NaN when no pixel (or every pixel) is a defect."""
    return image_auroc(np.asarray(masks).reshape(-1), np.asarray(maps, dtype=np.float64).reshape(-1))


def regions(masks: np.ndarray) -> np.ndarray:
    """``[N, H, W]`` region ids: 0 background, 1.. the 8-connected defect regions, unique across images."""
    from scipy import ndimage

    out = np.zeros(np.shape(masks), dtype=np.int64)
    offset = 0
    for i, mask in enumerate(np.asarray(masks) > 0):
        labelled, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
        out[i] = np.where(labelled > 0, labelled + offset, 0)
        offset += n
    return out


def pro_curve(masks: np.ndarray, maps: np.ndarray, fpr_limit: float = DEFAULT_FPR_LIMIT) -> tuple[np.ndarray, np.ndarray]:
    """False-positive rate and mean per-region overlap as the threshold falls, cut at ``fpr_limit``.

    Returns:
        ``(fpr, pro)``, both starting at 0 and ending at ``fpr_limit`` (the last point
        linearly interpolated), or ``([0, limit], [0, 0])`` without regions or background.
    """
    labels = regions(masks).reshape(-1)
    scores = np.asarray(maps, dtype=np.float64).reshape(-1)
    background = labels == 0
    flat = (np.array([0.0, fpr_limit]), np.array([0.0, 0.0]))
    n_background = int(background.sum())
    sizes = np.bincount(labels)
    n_regions = int((sizes[1:] > 0).sum()) if len(sizes) > 1 else 0
    if n_background == 0 or n_regions == 0:
        return flat
    overlap = np.where(background, 0.0, 1.0 / sizes[labels])
    order = np.argsort(-scores, kind="stable")
    fpr = np.minimum(np.cumsum(background[order]) / n_background, 1.0)
    pro = np.minimum(np.cumsum(overlap[order]) / n_regions, 1.0)
    ranked = scores[order]
    keep = np.ones(len(ranked), dtype=bool)
    keep[:-1] = ranked[:-1] != ranked[1:]  # one point per distinct threshold
    fpr = np.concatenate([[0.0], fpr[keep]])
    pro = np.concatenate([[0.0], pro[keep]])
    inside = np.flatnonzero(fpr <= fpr_limit)
    i = int(inside[-1])
    if fpr[i] < fpr_limit and i + 1 < len(fpr):
        share = (fpr_limit - fpr[i]) / (fpr[i + 1] - fpr[i])
        return np.append(fpr[:i + 1], fpr_limit), np.append(pro[:i + 1], pro[i] + (pro[i + 1] - pro[i]) * share)
    return fpr[:i + 1], pro[:i + 1]


def aupro(masks: np.ndarray, maps: np.ndarray, fpr_limit: float = DEFAULT_FPR_LIMIT) -> float:
    """Area under the PRO curve up to ``fpr_limit``, divided by the curve's last FPR (1.0 is perfect)."""
    masks = np.asarray(masks)
    if masks.size == 0 or not (masks > 0).any():
        return math.nan
    fpr, pro = pro_curve(masks, maps, fpr_limit)
    return float(np.trapezoid(pro, fpr) / fpr[-1])


def anomaly_metrics(labels: np.ndarray, scores: np.ndarray, maps: np.ndarray | None = None,
                    masks: np.ndarray | None = None, *, fpr_limit: float = DEFAULT_FPR_LIMIT) -> dict[str, float]:
    """Every anomaly metric that the given arrays determine.

    Args:
        labels: ``[N]``, 1 (or any positive value) for a defect.
        scores: ``[N]`` per-image anomaly scores, higher = more anomalous.
        maps: ``[N, h, w]`` anomaly maps, or None.
        masks: ``[N, h, w]`` ground-truth masks at the maps' size, or None.
        fpr_limit: AUPRO's false-positive-rate limit.

    Returns:
        ``image_auroc``, ``image_aupr``, ``f1_max``, ``f1_max_threshold``, and with maps
        and masks ``pixel_auroc`` and ``aupro``.
    """
    best, threshold = f1_max(labels, scores)
    out = {"image_auroc": image_auroc(labels, scores), "image_aupr": image_aupr(labels, scores),
           "f1_max": best, "f1_max_threshold": threshold}
    if maps is not None and masks is not None and len(maps) == len(masks):
        out["pixel_auroc"] = pixel_auroc(masks, maps)
        out["aupro"] = aupro(masks, maps, fpr_limit)
    return out

"""Localisation metrics from stored maps: how well CAM, attention and localisation find defects.

Computed per image over defect samples (any label but 0, the normal class; label 1 in
the binary case) that have a non-empty mask, then
averaged. Saliency maps (``cam``, ``attention``) are min-max normalised per image, so
strategies whose maps live on different scales compare fairly; a constant map carries no
location and scores 0 on every saliency metric. The ``localization`` map holds
probabilities and is thresholded as is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_SALIENCY: dict[str, tuple[str, str, str]] = {
    "cam": ("cam_iou", "pointgame", "energy_inside"),
    "attention": ("attn_iou", "attn_pointgame", "attn_energy_inside"),
}
"""Saliency map name to its (IoU, pointing game, energy inside) metric keys."""


def _fit(maps: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Nearest-neighbour resample of ``[N, h, w]`` maps to the masks' ``(H, W)``.

    The store keeps maps and masks at one resolution; this only guards against a store
    that does not. Moving the map, not the mask, never drops a small defect.
    """
    if maps.shape[1:] == tuple(shape):
        return maps
    rows = ((np.arange(shape[0]) + 0.5) * maps.shape[1] / shape[0]).astype(int)
    cols = ((np.arange(shape[1]) + 0.5) * maps.shape[2] / shape[1]).astype(int)
    return maps[:, rows][:, :, cols]


def minmax(maps: np.ndarray) -> np.ndarray:
    """Per-image min-max normalisation of ``[N, h, w]`` maps to [0, 1]; constant maps become 0."""
    flat = maps.reshape(len(maps), -1).astype(np.float64)
    low, high = flat.min(1, keepdims=True), flat.max(1, keepdims=True)
    span = high - low
    norm = np.where(span > 0, (flat - low) / np.where(span > 0, span, 1.0), 0.0)
    return norm.reshape(maps.shape)


def _iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    inter = (pred & gt).sum((1, 2))
    union = (pred | gt).sum((1, 2))
    return inter / np.maximum(union, 1)


def saliency_scores(maps: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """IoU, pointing game and energy inside of saliency maps against boolean masks.

    Args:
        maps: ``[N, h, w]`` raw maps (normalised here).
        gt: ``[N, h, w]`` bool masks, each non-empty.
        threshold: binarisation threshold on the normalised map (``>``).
    """
    norm = minmax(maps)
    flat = norm.reshape(len(norm), -1)
    informative = flat.max(1) > 0
    peak = flat.argmax(1)
    hit = gt.reshape(len(gt), -1)[np.arange(len(gt)), peak] & informative
    energy = (norm * gt).sum((1, 2)) / np.maximum(flat.sum(1), np.finfo(float).tiny)
    return {
        "iou": float(_iou(norm > threshold, gt).mean()),
        "pointgame": float(hit.mean()),
        "energy_inside": float(energy.mean()),
    }


def segmentation_scores(prob: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """IoU, Dice and pixel accuracy of probability maps thresholded at ``threshold`` (``>``)."""
    pred = prob > threshold
    inter = (pred & gt).sum((1, 2))
    sizes = pred.sum((1, 2)) + gt.sum((1, 2))
    return {
        "iou": float(_iou(pred, gt).mean()),
        "dice": float((2 * inter / np.maximum(sizes, 1)).mean()),
        "pixel_acc": float((pred == gt).mean((1, 2)).mean()),
    }


def _rows(pred: Any) -> np.ndarray:
    """Indices of defects with a non-empty mask."""
    rows = np.asarray(pred.labels) != 0
    if pred.has_mask is not None:
        rows &= np.asarray(pred.has_mask, dtype=bool)
    rows &= np.asarray(pred.masks).reshape(len(rows), -1).any(1)
    return np.flatnonzero(rows)


def localization_metrics(pred: Any, threshold: float = 0.5) -> dict[str, float]:
    """Localisation metrics of a :class:`harness.PredictionSet`.

    Keys: ``cam_iou``, ``pointgame``, ``energy_inside`` from ``maps["cam"]``;
    ``attn_iou``, ``attn_pointgame``, ``attn_energy_inside`` from ``maps["attention"]``;
    ``loc_iou``, ``loc_dice``, ``loc_pixel_acc`` from ``maps["localization"]``. Each group
    appears only when its map is stored; ``{}`` without masks or masked defects.

    Args:
        pred: stored predictions of one split.
        threshold: binarisation threshold.
    """
    maps = pred.maps or {}
    if pred.masks is None or not any(k in maps for k in (*_SALIENCY, "localization")):
        return {}
    rows = _rows(pred)
    if len(rows) == 0:
        return {}
    masks = np.asarray(pred.masks)[rows] > 0
    out: dict[str, float] = {}
    for name, keys in _SALIENCY.items():
        if name in maps:
            chosen = _fit(np.asarray(maps[name])[rows], masks.shape[1:])
            scores = saliency_scores(chosen, masks, threshold)
            out.update(zip(keys, (scores["iou"], scores["pointgame"], scores["energy_inside"])))
    if "localization" in maps:
        chosen = _fit(np.asarray(maps["localization"])[rows], masks.shape[1:])
        scores = segmentation_scores(chosen, masks, threshold)
        out.update({f"loc_{k}": v for k, v in scores.items()})
    return out

"""Anomaly metrics equal anomalib's (torchmetrics-based) implementations on the same scores."""

from __future__ import annotations

import numpy as np
import pytest

from harness.anomaly.metrics import anomaly_metrics, aupro, f1_max, image_aupr, image_auroc, pixel_auroc, regions

anomalib_metrics = pytest.importorskip("anomalib.metrics", reason="anomalib is the reference (extra: anomaly)")
torch = pytest.importorskip("torch")


def _scores(seed: int, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(int)
    labels[:2] = [0, 1]
    scores = rng.normal(size=n) + labels * rng.uniform(0.2, 2.0)
    return labels, np.round(scores, 1)  # rounding makes ties, which every implementation must treat alike


def _maps(seed: int, n: int = 6, size: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), dtype=np.uint8)
    for i in range(1, n):  # image 0 is normal; the others carry one or two blobs
        for _ in range(int(rng.integers(1, 3))):
            r, c, h, w = (int(v) for v in rng.integers(0, size - 6, 2).tolist() + rng.integers(2, 6, 2).tolist())
            masks[i, r:r + h, c:c + w] = 1
    maps = rng.random((n, size, size)).astype(np.float32) * 0.8 + masks * rng.uniform(0.0, 0.6)
    return masks, maps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_image_metrics_equal_anomalibs(seed):
    from anomalib.metrics.aupr import _AUPR
    from anomalib.metrics.auroc import _AUROC
    from anomalib.metrics.f1_score import _F1Max

    labels, scores = _scores(seed)
    preds, target = torch.tensor(scores, dtype=torch.float32), torch.tensor(labels)
    auroc, aupr, f1 = _AUROC(), _AUPR(), _F1Max()
    for metric in (auroc, aupr, f1):
        metric.update(preds, target)
    assert image_auroc(labels, scores) == pytest.approx(float(auroc.compute()), abs=1e-6)
    assert image_aupr(labels, scores) == pytest.approx(float(aupr.compute()), abs=1e-6)
    best, threshold = f1_max(labels, scores)
    assert best == pytest.approx(float(f1.compute()), abs=1e-6)
    assert threshold == pytest.approx(float(f1.threshold), abs=1e-6)
    predicted = scores >= threshold  # the threshold reproduces the F1 it reports
    tp = int((predicted & (labels == 1)).sum())
    assert 2 * tp / (predicted.sum() + labels.sum()) == pytest.approx(best)


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("fpr_limit", [0.3, 0.05])
def test_pixel_metrics_equal_anomalibs(seed, fpr_limit):
    from anomalib.metrics.aupro import _AUPRO
    from anomalib.metrics.auroc import _AUROC

    masks, maps = _maps(seed)
    reference = _AUPRO(fpr_limit=fpr_limit)
    reference.update(torch.tensor(maps), torch.tensor(masks))
    assert aupro(masks, maps, fpr_limit) == pytest.approx(float(reference.compute()), abs=1e-5)
    roc = _AUROC()
    roc.update(torch.tensor(maps).flatten(), torch.tensor(masks).flatten())
    assert pixel_auroc(masks, maps) == pytest.approx(float(roc.compute()), abs=1e-6)


def test_regions_are_eight_connected_and_unique_across_images():
    masks = np.zeros((2, 5, 5), dtype=np.uint8)
    masks[0, 0, 0] = masks[0, 1, 1] = 1  # diagonal neighbours: one region
    masks[0, 4, 4] = 1                    # a second region
    masks[1, 2, 2] = 1                    # the third, in the next image
    labelled = regions(masks)
    assert labelled[0, 0, 0] == labelled[0, 1, 1] != labelled[0, 4, 4]
    assert sorted(np.unique(labelled).tolist()) == [0, 1, 2, 3]


def test_perfect_maps_give_aupro_one_and_no_defects_give_nan():
    masks, _ = _maps(5)
    assert aupro(masks, masks.astype(float)) == pytest.approx(1.0)
    assert np.isnan(aupro(np.zeros_like(masks), masks.astype(float)))
    metrics = anomaly_metrics(np.zeros(4), np.arange(4.0))
    assert np.isnan(metrics["image_auroc"]) and np.isnan(metrics["f1_max"])
    assert "aupro" not in metrics


@pytest.mark.parametrize("seed", [0, 4, 7])
def test_image_metrics_equal_scikit_learns(seed):
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

    labels, scores = _scores(seed, n=200)
    assert image_auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert image_aupr(labels, scores) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0)[:-1]
    best, threshold = f1_max(labels, scores)
    assert best == pytest.approx(f1.max(), abs=1e-12)
    assert threshold == thresholds[np.flatnonzero(f1 == f1.max())[0]]

"""Resampled AUPR and F1-max: integer weights give scikit-learn's values on the repeated samples."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve

from harness.anomaly.metrics import f1_max, image_aupr
from harness.stats.bootstrap import bootstrap_intervals, metric_names, resampled_metrics
from harness.stats.resample import Resampler
from harness.stats.samples import SampleSet
from harness.stats.weighted import weighted_pr_metrics


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.35).astype(np.int64)
    scores = np.round(rng.normal(size=n) + 1.2 * labels, 1)  # rounding makes tied scores
    return labels, scores


def _sklearn_f1_max(labels: np.ndarray, scores: np.ndarray) -> float:
    precision, recall, _ = precision_recall_curve(labels, scores)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return float(f1.max())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_integer_weights_equal_sklearn_on_the_repeated_samples(seed):
    labels, scores = _data(50, seed)
    rng = np.random.default_rng(100 + seed)
    weights = rng.integers(0, 4, size=(6, len(labels))).astype(np.float64)
    weights[0] = 1.0  # the plain data
    got = weighted_pr_metrics(weights, labels == 1, scores)
    aupr, best = got["image_aupr"], got["f1_max"]
    for r, w in enumerate(weights):
        idx = np.repeat(np.arange(len(labels)), w.astype(int))  # each sample as often as its weight says
        assert aupr[r] == pytest.approx(average_precision_score(labels[idx], scores[idx]), abs=1e-12)
        assert best[r] == pytest.approx(_sklearn_f1_max(labels[idx], scores[idx]), abs=1e-12)
        # and the harness's own unweighted definitions, which metrics.json records
        assert aupr[r] == pytest.approx(image_aupr(labels[idx], scores[idx]), abs=1e-12)
        assert best[r] == pytest.approx(f1_max(labels[idx], scores[idx])[0], abs=1e-12)


def test_no_positive_gives_nan_and_zero_weights_drop_samples():
    labels, scores = _data(30, 5)
    weights = np.ones((2, len(labels)))
    weights[0, labels == 1] = 0.0  # no defect left
    weights[1, :10] = 0.0
    got = weighted_pr_metrics(weights, labels == 1, scores)
    aupr, best = got["image_aupr"], got["f1_max"]
    assert np.isnan(aupr[0]) and np.isnan(best[0])
    assert aupr[1] == pytest.approx(average_precision_score(labels[10:], scores[10:]), abs=1e-12)
    assert best[1] == pytest.approx(_sklearn_f1_max(labels[10:], scores[10:]), abs=1e-12)


@pytest.mark.parametrize("classes", [("normal", "defect"), ("defect", "good")])
def test_resampled_anomaly_metrics_score_the_defect_class(classes):
    labels, scores = _data(40, 3)
    defect = classes.index("defect")
    y = np.where(labels == 1, defect, 1 - defect)
    p = 1.0 / (1.0 + np.exp(-scores))
    proba = np.empty((len(y), 2))
    proba[:, defect], proba[:, 1 - defect] = p, 1.0 - p
    assert {"image_aupr", "f1_max", "image_auroc"} <= set(metric_names(classes))
    idx = next(Resampler(y, 4, seed=1).indices())
    weights = np.stack([np.bincount(i, minlength=len(y)) for i in idx]).astype(np.float64)
    got = resampled_metrics(weights, y, proba, classes, ["image_aupr", "f1_max"])
    for r in range(4):
        is_defect = y[idx[r]] == defect
        assert got["image_aupr"][r] == pytest.approx(average_precision_score(is_defect, p[idx[r]]), abs=1e-12)
        assert got["f1_max"][r] == pytest.approx(_sklearn_f1_max(is_defect, p[idx[r]]), abs=1e-12)


def test_intervals_hold_the_point_and_narrow_with_more_samples():
    widths = []
    for n in (40, 400):
        labels, scores = _data(n, 7)
        p = 1.0 / (1.0 + np.exp(-scores))
        samples = SampleSet(("normal", "defect"), tuple(f"s{i:04d}" for i in range(n)), labels,
                            np.stack([1 - p, p], axis=1)[None])
        found = bootstrap_intervals(samples, ["image_aupr", "f1_max"], n_resamples=300)
        assert found["image_aupr"].point == pytest.approx(average_precision_score(labels, p))
        assert found["f1_max"].point == pytest.approx(_sklearn_f1_max(labels, p))
        for interval in found.values():
            assert interval.low < interval.point < interval.high
        widths.append(found["image_aupr"].high - found["image_aupr"].low)
    assert widths[1] < widths[0] / 2

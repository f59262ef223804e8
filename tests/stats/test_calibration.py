"""ECE, Brier scores and reliability curves against hand-worked values and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from harness.stats.calibration import (
    brier_positive_class,
    brier_score,
    calibration_metrics,
    expected_calibration_error,
    reliability_curve,
    weighted_calibration,
)

# two samples at confidence 0.95 (one right), two at 0.70 (both right)
LABELS = np.array([1, 1, 1, 0])
PROBA = np.array([[0.05, 0.95], [0.95, 0.05], [0.30, 0.70], [0.70, 0.30]])


def test_ece_by_hand() -> None:
    # bin of 0.95: |0.95 - 1/2| * 2/4 = 0.225; bin of 0.70: |0.70 - 1| * 2/4 = 0.15
    assert expected_calibration_error(LABELS, PROBA) == pytest.approx(0.375, abs=1e-12)
    # a single bin pools everything: |mean confidence 0.825 - accuracy 0.75|
    assert expected_calibration_error(LABELS, PROBA, n_bins=1) == pytest.approx(0.075, abs=1e-12)


def test_ece_of_a_perfectly_calibrated_bin_is_zero() -> None:
    labels = np.array([0, 0, 0, 1])  # confidence 0.75 everywhere, 3 of 4 right
    proba = np.tile([0.75, 0.25], (4, 1))
    assert expected_calibration_error(labels, proba) == pytest.approx(0.0, abs=1e-12)


def test_brier_by_hand_and_against_sklearn() -> None:
    # per sample sum_k (p_k - y_k)^2: 0.005, 1.805, 0.18, 0.18
    assert brier_score(LABELS, PROBA) == pytest.approx(2.17 / 4, abs=1e-12)
    assert brier_positive_class(LABELS, PROBA) == pytest.approx(1.085 / 4, abs=1e-12)
    assert brier_positive_class(LABELS, PROBA) == pytest.approx(brier_score_loss(LABELS, PROBA[:, 1]), abs=1e-15)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    p1 = rng.random(200)
    proba = np.stack([1 - p1, p1], axis=1)
    metrics = calibration_metrics(labels, proba)
    assert metrics["brier_positive_class"] == pytest.approx(brier_score_loss(labels, p1), abs=1e-12)
    assert metrics["brier"] == pytest.approx(2 * brier_score_loss(labels, p1), abs=1e-12)  # binary: twice


def test_three_class_brier_and_names() -> None:
    labels = np.array([2, 0])
    proba = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    # (0.04 + 0.09 + 0.25) and 0
    assert calibration_metrics(labels, proba) == pytest.approx({"ece": (0.5 + 0.0) / 2, "brier": 0.38 / 2})


@pytest.mark.parametrize("n_bins", [5, 10, 15])
def test_reliability_curve_equals_sklearn(n_bins: int) -> None:
    rng = np.random.default_rng(n_bins)
    p1 = np.concatenate([rng.random(300), np.arange(n_bins + 1) / n_bins, [0.0, 1.0, 0.5]])  # include the bin edges
    labels = (rng.random(len(p1)) < p1).astype(int)
    curve = reliability_curve(labels, np.stack([1 - p1, p1], axis=1), n_bins)
    prob_true, prob_pred = calibration_curve(labels, p1, n_bins=n_bins, strategy="uniform")
    np.testing.assert_allclose(curve.prob_true, prob_true, rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve.prob_pred, prob_pred, rtol=0, atol=1e-12)
    assert curve.counts.sum() == len(p1) and curve.kind == "positive class"


def test_three_class_reliability_is_top_label() -> None:
    labels = np.array([0, 1, 2, 2])
    proba = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.1, 0.5, 0.4], [0.2, 0.2, 0.6]])
    curve = reliability_curve(labels, proba, n_bins=10)
    # bins (0.4, 0.5]: one wrong at 0.5; (0.5, 0.6]: one right at 0.6; (0.8, 0.9]: one right, one wrong
    np.testing.assert_allclose(curve.prob_pred, [0.5, 0.6, 0.9])
    np.testing.assert_allclose(curve.prob_true, [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(curve.counts, [1, 1, 2])
    assert curve.kind == "top label"


def test_weighted_calibration_equals_the_resampled_arrays() -> None:
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, 50)
    proba = rng.dirichlet(np.ones(3), 50)
    idx = rng.integers(0, 50, (4, 50))
    weights = np.stack([np.bincount(i, minlength=50) for i in idx]).astype(float)
    got = weighted_calibration(weights, labels, proba)
    for r in range(4):
        expected = calibration_metrics(labels[idx[r]], proba[idx[r]])
        for name, value in expected.items():
            assert got[name][r] == pytest.approx(value, abs=1e-12)

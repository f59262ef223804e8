"""The classification metric family against scikit-learn and hand-worked cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

import harness_metrics
from harness import HarnessError, PredictionSet
from harness.registry import Registry
from harness_metrics.classification import classification, confusion_matrix, roc_auc

TOL = {"rtol": 1e-12, "atol": 1e-12}


def _classification_fn():
    registry = Registry("metric")
    harness_metrics.harness_register_metrics(registry=registry)
    return registry.get("classification")


def _prediction_set(labels: np.ndarray, proba: np.ndarray) -> PredictionSet:
    classes = tuple(f"c{k}" for k in range(proba.shape[1]))
    ids = tuple(str(i) for i in range(len(labels)))
    return PredictionSet(classes=classes, sample_ids=ids, labels=labels, proba=proba)


def _random_case(seed: int, n: int, k: int, *, ties: bool, never_predicted: int | None = None):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, size=n)
    if ties:
        # probabilities on a grid of tenths: many rows share scores exactly
        proba = rng.multinomial(10, np.full(k, 1.0 / k), size=n) / 10.0
    else:
        proba = rng.dirichlet(np.ones(k), size=n)
    if never_predicted is not None:
        proba[:, never_predicted] = 0.0
        proba /= proba.sum(axis=1, keepdims=True)
    return labels, proba


CASES = {
    "binary": (0, 200, 2, False, None),
    "binary-ties": (1, 150, 2, True, None),
    "3-class": (2, 300, 3, False, None),
    "3-class-ties": (3, 300, 3, True, None),
    "10-class": (4, 500, 10, False, None),
    "10-class-ties": (5, 400, 10, True, None),
    "3-class-never-predicted": (6, 120, 3, False, 1),
    "binary-never-predicted": (7, 60, 2, False, 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_classification_matches_sklearn(case: str) -> None:
    seed, n, k, ties, never = CASES[case]
    labels, proba = _random_case(seed, n, k, ties=ties, never_predicted=never)
    pred = _prediction_set(labels, proba)
    got = _classification_fn()(pred)
    predicted = proba.argmax(axis=1)
    if never is not None:
        assert not np.any(predicted == never)
    classes = list(pred.classes)
    report = skm.classification_report(
        labels, predicted, labels=list(range(k)), target_names=classes, output_dict=True, zero_division=0
    )
    for name in classes:
        for ours, theirs in (
            ("precision", "precision"),
            ("recall", "recall"),
            ("f1", "f1-score"),
            ("support", "support"),
        ):
            np.testing.assert_allclose(got[f"{ours}_{name}"], report[name][theirs], **TOL)
    for ours, theirs in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
        np.testing.assert_allclose(got[f"{ours}_macro"], report["macro avg"][theirs], **TOL)
    np.testing.assert_allclose(got["accuracy"], skm.accuracy_score(labels, predicted), **TOL)
    np.testing.assert_allclose(got["balanced_accuracy"], skm.balanced_accuracy_score(labels, predicted), **TOL)
    f1_macro = skm.f1_score(labels, predicted, labels=list(range(k)), average="macro", zero_division=0)
    f1_weighted = skm.f1_score(labels, predicted, labels=list(range(k)), average="weighted", zero_division=0)
    np.testing.assert_allclose(got["f1_macro"], f1_macro, **TOL)
    np.testing.assert_allclose(got["f1_weighted"], f1_weighted, **TOL)
    if k == 2:
        auc = skm.roc_auc_score(labels, proba[:, 1])
    else:
        auc = skm.roc_auc_score(labels, proba, multi_class="ovr", average="macro", labels=list(range(k)))
    np.testing.assert_allclose(got["auroc"], auc, **TOL)
    np.testing.assert_array_equal(
        confusion_matrix(labels, predicted, k), skm.confusion_matrix(labels, predicted, labels=list(range(k)))
    )
    expected_keys = {
        "accuracy",
        "balanced_accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "f1_weighted",
        "auroc",
    }
    expected_keys |= {f"{m}_{c}" for m in ("precision", "recall", "f1", "support") for c in classes}
    assert set(got) == expected_keys
    assert "loss" not in got


def test_hand_worked_binary_case() -> None:
    # labels 0 0 1 1 1; predicted 0 1 1 1 0 -> cm [[1, 1], [1, 2]]
    labels = np.array([0, 0, 1, 1, 1])
    p1 = np.array([0.1, 0.6, 0.9, 0.7, 0.4])
    pred = PredictionSet(("normal", "defect"), tuple("abcde"), labels, np.stack([1 - p1, p1], axis=1))
    got = classification(pred)
    np.testing.assert_array_equal(confusion_matrix(labels, pred.predicted, 2), [[1, 1], [1, 2]])
    assert got["accuracy"] == pytest.approx(3 / 5)
    assert got["precision_defect"] == pytest.approx(2 / 3)
    assert got["recall_defect"] == pytest.approx(2 / 3)
    assert got["precision_normal"] == pytest.approx(1 / 2)
    assert got["recall_normal"] == pytest.approx(1 / 2)
    assert got["balanced_accuracy"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert got["support_defect"] == 3.0
    # positive scores 0.9, 0.7, 0.4 vs negatives 0.1, 0.6: 5 of 6 pairs ordered correctly
    assert got["auroc"] == pytest.approx(5 / 6)


def test_roc_auc_counts_ties_as_half() -> None:
    assert roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == 0.5
    assert roc_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.5, 0.5, 0.1])) == pytest.approx((1 + 1 + 1 + 0.5) / 4)


def test_absent_class_gives_nan_auroc_and_zero_scores() -> None:
    labels = np.array([0, 0, 2, 2, 0, 2])  # class 1 never occurs
    proba = np.array(
        [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1], [0.5, 0.1, 0.4]]
    )
    got = classification(_prediction_set(labels, proba))
    assert np.isnan(got["auroc"])
    assert got["recall_c1"] == 0.0 and got["precision_c1"] == 0.0 and got["support_c1"] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about the predicted-but-absent class
        expected = skm.balanced_accuracy_score(labels, proba.argmax(axis=1))
    np.testing.assert_allclose(got["balanced_accuracy"], expected, **TOL)
    # binary, one class only
    only = classification(_prediction_set(np.zeros(4, dtype=np.int64), np.full((4, 2), 0.5)))
    assert np.isnan(only["auroc"])


def test_bad_inputs_raise_harness_error() -> None:
    with pytest.raises(HarnessError, match="outside"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(HarnessError, match="labels"):
        confusion_matrix(np.array([0, 1, 1]), np.array([0, 1]), 2)
    pred = PredictionSet(("a", "b", "c"), ("x",), np.array([0]), np.array([[0.4, 0.6]]))
    with pytest.raises(HarnessError, match="3 classes"):
        classification(pred)

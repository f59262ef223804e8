"""Calibration: expected calibration error, Brier scores and reliability curves.

Bins are equal-width on ``[0, 1]`` and assigned exactly as scikit-learn's
``calibration_curve(strategy="uniform")`` does: a probability on an inner bin edge
belongs to the lower bin, so bins are ``[0, 1/B], (1/B, 2/B], ..., ((B-1)/B, 1]``.

- ECE uses the top-label confidence (the largest class probability) against whether
  the top label is right: ``sum_b n_b / N * |mean confidence_b - accuracy_b|``.
- ``brier`` is the multi-class Brier score, the mean over samples of
  ``sum_k (p_k - y_k)^2`` with ``y`` one-hot: ``0`` is perfect, ``2`` the worst. For two
  classes it is twice scikit-learn's ``brier_score_loss``, which is reported as well
  under the name ``brier_positive_class``: ``mean (p_1 - y_1)^2`` on the positive class
  (class index 1).
- The reliability curve of a binary problem is that of the positive class (equal to
  ``calibration_curve``); with more classes it is the top-label curve the ECE sums over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_BINS = 15


def bin_index(values: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """``[N]`` bin of each probability, ``0 .. n_bins - 1`` (upper edges inclusive)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], np.asarray(values, dtype=np.float64))


def top_label(labels: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[N]`` top-label confidence and ``[N]`` float 1.0/0.0 whether the top label is right."""
    proba = np.asarray(proba, dtype=np.float64)
    predicted = proba.argmax(axis=1)
    confidence = proba[np.arange(len(proba)), predicted]
    return confidence, (predicted == np.asarray(labels)).astype(np.float64)


def sample_brier(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """``[N]`` per-sample multi-class Brier terms ``sum_k (p_k - y_k)^2``."""
    proba = np.asarray(proba, dtype=np.float64)
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(proba)), np.asarray(labels, dtype=np.int64)] = 1.0
    return ((proba - onehot) ** 2).sum(axis=1)


def weighted_ece(
    weights: np.ndarray, confidence: np.ndarray, correct: np.ndarray, n_bins: int = DEFAULT_BINS
) -> np.ndarray:
    """ECE of each weighting of the samples.

    Args:
        weights: ``[R, N]`` sample weights (bootstrap counts, or ones).
        confidence: ``[N]`` top-label confidence.
        correct: ``[N]`` 1.0 where the top label is right.
        n_bins: number of equal-width bins.

    Returns:
        ``[R]`` ECE values (NaN for an all-zero weighting).
    """
    gaps = np.zeros((len(confidence), n_bins))  # [N, B] each sample's confidence minus hit, in its bin's column
    gaps[np.arange(len(confidence)), bin_index(confidence, n_bins)] = confidence - correct
    gap = weights @ gaps  # [R, B] summed confidence minus summed hits per bin
    total = weights.sum(axis=1)
    out = np.full(len(weights), np.nan)
    np.divide(np.abs(gap).sum(axis=1), total, out=out, where=total > 0)
    return out


def weighted_calibration(
    weights: np.ndarray, labels: np.ndarray, proba: np.ndarray, n_bins: int = DEFAULT_BINS
) -> dict[str, np.ndarray]:
    """``ece``, ``brier`` and, with two classes, ``brier_positive_class`` per weighting."""
    labels = np.asarray(labels, dtype=np.int64)
    confidence, correct = top_label(labels, proba)
    total = weights.sum(axis=1)
    out = {
        "ece": weighted_ece(weights, confidence, correct, n_bins),
        "brier": weights @ sample_brier(labels, proba) / total,
    }
    if proba.shape[1] == 2:
        out["brier_positive_class"] = weights @ ((proba[:, 1] - (labels == 1)) ** 2) / total
    return out


def calibration_metrics(labels: np.ndarray, proba: np.ndarray, n_bins: int = DEFAULT_BINS) -> dict[str, float]:
    """ECE, Brier score (and the positive-class Brier score of a binary problem).

    Args:
        labels: ``[N]`` true classes.
        proba: ``[N, K]`` probabilities.
        n_bins: ECE bins.

    Returns:
        ``ece``, ``brier`` and, when ``K == 2``, ``brier_positive_class``.
    """
    ones = np.ones((1, len(labels)))
    return {
        k: float(v[0])
        for k, v in weighted_calibration(ones, labels, np.asarray(proba, dtype=np.float64), n_bins).items()
    }


def expected_calibration_error(labels: np.ndarray, proba: np.ndarray, n_bins: int = DEFAULT_BINS) -> float:
    """Top-label ECE with ``n_bins`` equal-width bins."""
    confidence, correct = top_label(labels, proba)
    return float(weighted_ece(np.ones((1, len(confidence))), confidence, correct, n_bins)[0])


def brier_score(labels: np.ndarray, proba: np.ndarray) -> float:
    """Multi-class Brier score: mean over samples of ``sum_k (p_k - y_k)^2``."""
    return float(sample_brier(labels, proba).mean())


def brier_positive_class(labels: np.ndarray, proba: np.ndarray) -> float:
    """Binary Brier score of class 1, as scikit-learn's ``brier_score_loss``."""
    proba = np.asarray(proba, dtype=np.float64)
    return float(((proba[:, 1] - (np.asarray(labels) == 1)) ** 2).mean())


@dataclass(frozen=True)
class ReliabilityCurve:
    """The non-empty bins of a reliability diagram.

    Attributes:
        prob_true: observed frequency per bin (positive rate, or top-label accuracy).
        prob_pred: mean predicted probability per bin.
        counts: samples per bin.
        kind: ``"positive class"`` or ``"top label"``, what the axes mean.
    """

    prob_true: np.ndarray
    prob_pred: np.ndarray
    counts: np.ndarray
    kind: str


def reliability_curve(labels: np.ndarray, proba: np.ndarray, n_bins: int = DEFAULT_BINS) -> ReliabilityCurve:
    """Observed against predicted probability in equal-width bins.

    Args:
        labels: ``[N]`` true classes.
        proba: ``[N, K]`` probabilities.
        n_bins: number of bins.

    Returns:
        With two classes, the positive-class curve (the bins of scikit-learn's
        ``calibration_curve(strategy="uniform")``); otherwise the top-label curve.
    """
    proba = np.asarray(proba, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if proba.shape[1] == 2:
        predicted, observed, kind = proba[:, 1], (labels == 1).astype(np.float64), "positive class"
    else:
        predicted, observed = top_label(labels, proba)
        kind = "top label"
    ids = bin_index(predicted, n_bins)
    counts = np.bincount(ids, minlength=n_bins)
    nonzero = counts > 0
    prob_true = np.bincount(ids, weights=observed, minlength=n_bins)[nonzero] / counts[nonzero]
    prob_pred = np.bincount(ids, weights=predicted, minlength=n_bins)[nonzero] / counts[nonzero]
    return ReliabilityCurve(prob_true, prob_pred, counts[nonzero], kind)


def calibration_names(classes: Sequence[str]) -> tuple[str, ...]:
    """The calibration metric names reported for a problem with these classes."""
    return ("ece", "brier", "brier_positive_class") if len(classes) == 2 else ("ece", "brier")

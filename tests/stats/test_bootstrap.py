"""Resampling and bootstrap intervals: exact per-resample metrics, coverage of the point,
shrinking with the test-set size, reproducibility, and a closed-form spread."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.metrics import classification_metrics
from harness.stats.bootstrap import bootstrap_distribution, bootstrap_intervals, metric_names, resampled_metrics
from harness.stats.calibration import calibration_metrics
from harness.stats.resample import Resampler
from harness.stats.samples import SampleSet

CLASSES = ("ok", "scratch", "dent")


def _samples(n: int, seed: int = 0, n_seeds: int = 1, skill: float = 1.5) -> SampleSet:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    probas = []
    for _ in range(n_seeds):
        logits = rng.normal(size=(n, 3))
        logits[np.arange(n), labels] += skill
        p = np.exp(logits)
        probas.append(np.round(p / p.sum(axis=1, keepdims=True), 2))  # rounding makes ties in the scores
    return SampleSet(CLASSES, tuple(f"s{i}" for i in range(n)), labels, np.stack(probas))


def test_resamples_keep_class_counts_and_are_seeded() -> None:
    labels = np.array([0] * 7 + [1] * 3 + [2] * 5)
    counts = np.concatenate(list(Resampler(labels, 300, seed=1).chunks()))
    assert counts.shape == (300, 15)
    for k, n_k in enumerate((7, 3, 5)):
        np.testing.assert_array_equal(counts[:, labels == k].sum(axis=1), n_k)
    again = np.concatenate(list(Resampler(labels, 300, seed=1).chunks()))
    other = np.concatenate(list(Resampler(labels, 300, seed=2).chunks()))
    np.testing.assert_array_equal(counts, again)
    assert not np.array_equal(counts, other)


def test_every_resample_equals_the_metrics_of_the_resampled_arrays() -> None:
    s = _samples(60)
    labels, proba = s.labels, s.proba[0]
    idx = next(Resampler(labels, 5, seed=3).indices())
    weights = np.stack([np.bincount(i, minlength=len(labels)) for i in idx]).astype(float)
    got = resampled_metrics(weights, labels, proba, CLASSES)
    assert set(got) == set(metric_names(CLASSES))
    for r in range(5):
        expected = classification_metrics(labels[idx[r]], proba[idx[r]], CLASSES)
        expected |= calibration_metrics(labels[idx[r]], proba[idx[r]])
        for name in got:
            assert got[name][r] == pytest.approx(expected[name], abs=1e-12), name


def test_binary_metrics_include_the_positive_class_brier() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 20)
    p1 = np.clip(labels * 0.5 + rng.random(40) * 0.5, 0, 1)
    got = resampled_metrics(np.ones((1, 40)), labels, np.stack([1 - p1, p1], axis=1), ("normal", "defect"))
    expected = classification_metrics(labels, np.stack([1 - p1, p1], axis=1), ("normal", "defect"))
    assert got["auroc"][0] == pytest.approx(expected["auroc"], abs=1e-12)
    assert got["brier_positive_class"][0] == pytest.approx(np.mean((p1 - labels) ** 2), abs=1e-12)


def test_intervals_contain_the_point_and_shrink_with_n() -> None:
    small, large = bootstrap_intervals(_samples(90)), bootstrap_intervals(_samples(1440))
    for name, interval in small.items():
        assert interval.low <= interval.point <= interval.high, name
        assert large[name].low <= large[name].point <= large[name].high, name
    for name in ("accuracy", "f1_macro", "auroc", "brier", "recall_dent"):
        # 16 times the samples: about a quarter of the width
        assert (large[name].high - large[name].low) < 0.45 * (small[name].high - small[name].low), name


def test_intervals_are_reproducible_by_seed() -> None:
    s = _samples(120)
    first = bootstrap_intervals(s, ["f1_macro", "ece"], n_resamples=200, seed=7)
    assert first == bootstrap_intervals(s, ["f1_macro", "ece"], n_resamples=200, seed=7)
    assert first != bootstrap_intervals(s, ["f1_macro", "ece"], n_resamples=200, seed=8)


def test_accuracy_spread_matches_the_stratified_closed_form() -> None:
    s = _samples(300, seed=5, skill=1.0)
    right = s.proba[0].argmax(axis=1) == s.labels
    # stratified resampling: accuracy = sum_k (n_k / N) * Binomial(n_k, a_k) / n_k
    n = len(s.labels)
    variance = sum(
        (np.sum(s.labels == k) / n) ** 2
        * right[s.labels == k].mean()
        * (1 - right[s.labels == k].mean())
        / np.sum(s.labels == k)
        for k in range(3)
    )
    spread = bootstrap_distribution(s, Resampler(s.labels, 4000, seed=0), ["accuracy"])["accuracy"]
    assert spread.mean() == pytest.approx(right.mean(), abs=0.003)
    assert spread.std() == pytest.approx(math.sqrt(variance), rel=0.06)


def test_several_seeds_average_the_per_seed_metric_per_resample() -> None:
    both = _samples(90, n_seeds=2)
    resampler = Resampler(both.labels, 300, seed=0)
    joint = bootstrap_distribution(both, resampler, ["f1_macro", "auroc"])
    for name in ("f1_macro", "auroc"):
        single = [
            bootstrap_distribution(
                SampleSet(CLASSES, both.sample_ids, both.labels, both.proba[i : i + 1]), resampler, [name]
            )[name]
            for i in range(2)
        ]
        np.testing.assert_allclose(joint[name], (single[0] + single[1]) / 2, rtol=0, atol=1e-12)
    point = bootstrap_intervals(both, ["accuracy"])["accuracy"].point
    per_seed = [np.mean(p.argmax(axis=1) == both.labels) for p in both.proba]
    assert point == pytest.approx(np.mean(per_seed), abs=1e-12)

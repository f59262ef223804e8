"""McNemar, Holm, the paired bootstrap, and rows against the top row."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness import HarnessError
from harness.stats.paired import compare_with_top, holm, mcnemar_p, paired_delta_intervals
from harness.stats.samples import SampleSet

CLASSES = ("normal", "defect")


def test_mcnemar_exact_by_hand() -> None:
    # b=1, c=6: 2 * (C(7,0) + C(7,1)) / 2^7 = 2 * 8 / 128
    assert mcnemar_p(1, 6) == (0.125, "McNemar exact")
    assert mcnemar_p(6, 1)[0] == 0.125
    assert mcnemar_p(1, 6)[0] == pytest.approx(stats.binomtest(1, 7, 0.5).pvalue, abs=1e-15)
    assert mcnemar_p(0, 0)[0] == 1.0 and mcnemar_p(5, 5)[0] == 1.0
    # b + c = 24 is still exact: 2 * sum_{i<=4} C(24, i) / 2^24
    assert mcnemar_p(4, 20)[0] == pytest.approx(2 * sum(math.comb(24, i) for i in range(5)) / 2**24, abs=1e-15)


def test_mcnemar_is_exact_for_any_count_and_chi_square_on_request() -> None:
    for b, c in [(5, 20), (30, 12), (400, 460), (0, 90)]:
        p, method = mcnemar_p(b, c)
        assert method == "McNemar exact"
        assert p == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-9)
    for b, c in [(5, 20), (30, 12), (40, 40), (13, 12)]:
        p, method = mcnemar_p(b, c, exact_below=25)
        statistic = max(abs(b - c) - 1, 0) ** 2 / (b + c)
        assert method == "McNemar chi-square"
        assert p == pytest.approx(stats.chi2.sf(statistic, df=1), rel=1e-12)


def test_holm_by_hand() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])
    adjusted = holm([0.02, float("nan"), 0.01])
    assert math.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2]], [0.02, 0.02])


def _set(labels: np.ndarray, p1: np.ndarray) -> SampleSet:
    ids = tuple(f"s{i:03d}" for i in range(len(labels)))
    return SampleSet(CLASSES, ids, labels, np.stack([1 - p1, p1], axis=1)[None])


def test_rows_against_the_top_row_with_mcnemar() -> None:
    labels = np.array([0, 1] * 30)
    truth = np.where(labels == 1, 0.9, 0.1)
    top = _set(labels, truth)
    flipped = truth.copy()
    flipped[:2] = 1 - flipped[:2]  # 2 samples wrong: b=2, c=0
    bad = truth.copy()
    bad[:30] = 1 - bad[:30]  # 30 samples wrong: b=30, c=0
    results = compare_with_top(("top", top), [("near", _set(labels, flipped)), ("bad", _set(labels, bad))], "accuracy")
    near, worse = results
    assert (near.detail, worse.detail) == ("b=2, c=0", "b=30, c=0")
    assert near.p == 0.5 and near.method == "McNemar exact"  # 2 * 1/4
    exact = 2 / 2**30  # b=30, c=0: both one-sided tails are a single pattern
    assert worse.p == pytest.approx(exact, rel=1e-12) and worse.method == "McNemar exact"
    assert worse.p_min == pytest.approx(exact) and near.p_min == pytest.approx(0.5)
    assert worse.p_holm == pytest.approx(2 * exact, rel=1e-12) and near.p_holm == pytest.approx(0.5)
    assert (near.verdict, worse.verdict) == ("tied", "worse")
    assert worse.delta == pytest.approx(-0.5)


def test_rows_against_the_top_row_with_the_paired_bootstrap() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 50)
    p1 = np.clip(np.where(labels == 1, 0.7, 0.3) + rng.normal(0, 0.15, 100), 0, 1)
    top = _set(labels, p1)
    broken = p1.copy()
    broken[:40] = 1 - broken[:40]
    results = compare_with_top(
        ("top", top),
        [("same", _set(labels, p1)), ("broken", _set(labels, broken))],
        "f1_macro",
        n_resamples=400,
        n_permutations=400,
    )
    same, bad = results
    assert same.p == 1.0 and same.delta == 0.0 and same.verdict == "tied"  # identical: no swap changes anything
    assert same.method == "permutation exact" and (same.low, same.high) == (0.0, 0.0)
    # 40 samples swapped in: no random swap pattern is as extreme, so p is the Monte Carlo floor
    assert bad.method == "permutation" and bad.p == pytest.approx(1 / 401) and bad.p_min == pytest.approx(1 / 401)
    assert bad.verdict == "worse" and bad.delta < -0.2 and bad.low <= bad.delta <= bad.high < 0
    assert bad.p_holm == pytest.approx(2 / 401)
    # a lower-is-better metric: a worse calibration is a larger Brier score
    (brier,) = compare_with_top(
        ("top", top), [("broken", _set(labels, broken))], "brier", lower_is_better=True, n_resamples=400
    )
    assert brier.delta > 0 and brier.verdict == "worse"


def test_pairs_on_other_samples_are_refused() -> None:
    labels = np.array([0, 1, 0, 1])
    top = _set(labels, np.full(4, 0.6))
    other = SampleSet(CLASSES, ("s000", "s001", "s002", "x"), labels, top.proba)
    with pytest.raises(HarnessError, match="'top' .* and 'row' .* were not evaluated on the same test set"):
        compare_with_top(("'top'", top), [("'row'", other)], "accuracy")
    with pytest.raises(HarnessError, match="disagree about the labels"):
        paired_delta_intervals(top, _set(1 - labels, np.full(4, 0.6)), ["accuracy"])


def test_paired_delta_intervals() -> None:
    rng = np.random.default_rng(1)
    labels = np.array([0, 1] * 40)
    p1 = np.clip(np.where(labels == 1, 0.8, 0.2) + rng.normal(0, 0.2, 80), 0, 1)
    a = _set(labels, p1)
    same = paired_delta_intervals(a, a, ["f1_macro", "ece"], n_resamples=200)
    assert all((i.point, i.low, i.high) == (0.0, 0.0, 0.0) for i in same.values())
    worse = p1.copy()
    worse[:30] = 1 - worse[:30]
    delta = paired_delta_intervals(a, _set(labels, worse), ["accuracy"], n_resamples=500)["accuracy"]
    expected = np.mean((worse > 0.5) == labels) - np.mean((p1 > 0.5) == labels)
    assert delta.point == pytest.approx(expected, abs=1e-12)
    assert delta.low <= delta.point <= delta.high < 0

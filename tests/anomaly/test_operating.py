"""Operating points: thresholds chosen on validation equal brute-force searches over the scores."""

from __future__ import annotations

import numpy as np
import pytest

from harness import HarnessError
from harness.anomaly.operating import ScoreCalibration, choose_threshold, operating_point, parse_rule


def _data(seed=0, n=80):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(int)
    return labels, rng.normal(size=n) + 1.5 * labels


def _f1(labels, scores, t):
    flagged = scores >= t
    tp = (flagged & (labels == 1)).sum()
    return 2 * tp / (flagged.sum() + labels.sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_f1_threshold_is_the_best_candidate(seed):
    labels, scores = _data(seed)
    t = choose_threshold(labels, scores, "f1")
    best = max(_f1(labels, scores, c) for c in np.unique(scores))
    assert _f1(labels, scores, t) == pytest.approx(best)


@pytest.mark.parametrize("fpr", [0.01, 0.1, 0.25])
def test_fpr_threshold_is_the_lowest_that_keeps_the_false_alarm_rate(fpr):
    labels, scores = _data(3)
    t = choose_threshold(labels, scores, {"fpr": fpr})
    normal = scores[labels == 0]
    assert (normal >= t).mean() <= fpr
    lower = [c for c in np.unique(scores) if c < t]
    assert all((normal >= c).mean() > fpr for c in lower[-3:])  # any lower candidate raises more false alarms


@pytest.mark.parametrize("recall", [0.5, 0.9, 1.0])
def test_recall_threshold_is_the_highest_that_keeps_the_recall(recall):
    labels, scores = _data(4)
    t = choose_threshold(labels, scores, {"recall": recall})
    defect = scores[labels == 1]
    assert (defect >= t).mean() >= recall
    higher = [c for c in np.unique(defect) if c > t]
    assert not higher or (defect >= higher[0]).mean() < recall


def test_calibration_is_monotone_and_half_at_the_threshold():
    labels, scores = _data(5)
    cal = ScoreCalibration.fit(labels, scores)
    p = cal.defect_probability(np.sort(scores))
    assert np.all(np.diff(p) >= 0)
    assert cal.defect_probability(np.array([cal.threshold]))[0] == pytest.approx(0.5)
    proba = cal.proba(scores, defect_index=0)
    assert np.allclose(proba.sum(axis=1), 1.0) and np.array_equal(proba[:, 0] >= 0.5, scores >= cal.threshold)
    assert ScoreCalibration.from_dict(cal.to_dict()) == cal


def test_validation_without_defects_falls_back_to_a_false_alarm_rule():
    labels, scores = _data(6)
    normal = scores[labels == 0]
    cal = ScoreCalibration.fit(np.zeros(len(normal)), normal)
    assert cal.rule == {"fpr": 0.01}
    assert (normal >= cal.threshold).mean() <= 0.01


def test_operating_point_counts_and_rates():
    labels = np.array([1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.1, 0.7, 0.2, 0.3, 0.1])
    point = operating_point(labels, scores, 0.5)
    assert (point["tp"], point["fn"], point["fp"], point["tn"]) == (2, 1, 1, 3)
    assert point["recall"] == pytest.approx(2 / 3) and point["false_alarm_rate"] == pytest.approx(1 / 4)


@pytest.mark.parametrize("rule", ["f2", {"fpr": 0}, {"fpr": 1.5}, {"recall": True}, {"fpr": 0.1, "recall": 0.9}])
def test_bad_rules_are_refused(rule):
    with pytest.raises(HarnessError, match="threshold must be"):
        parse_rule(rule)


@pytest.mark.parametrize(("successes", "trials"), [(0, 1), (0, 5), (5, 5), (3, 10), (17, 40), (1, 1000), (999, 1000)])
def test_wilson_interval_equals_scipy(successes, trials):
    from scipy.stats import binomtest

    from harness.leaderboard.ranking.anomaly import wilson

    ci = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(successes, trials) == pytest.approx((ci.low, ci.high), abs=1e-12)

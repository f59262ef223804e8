"""Paired tests of the displayed statistic, against scipy's permutation and binomial tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import f1_score, roc_auc_score

from harness.stats.paired import compare_with_top
from harness.stats.permutation import permutation_tests, sign_flip_accuracy
from harness.stats.samples import SampleSet

CLASSES = ("a", "b", "c")


def _rows(n: int, seeds_a: int, seeds_b: int, seed: int, classes=CLASSES) -> tuple[SampleSet, SampleSet]:
    """Two rows on the same ``n`` samples; B is a little better than A."""
    rng = np.random.default_rng(seed)
    k = len(classes)
    labels = np.arange(n) % k
    ids = tuple(f"s{i:03d}" for i in range(n))

    def stack(seeds: int, strength: float) -> np.ndarray:
        logits = rng.normal(0, 1, (seeds, n, k))
        logits[:, np.arange(n), labels] += strength
        e = np.exp(logits)
        return e / e.sum(axis=2, keepdims=True)

    return (
        SampleSet(classes, ids, labels, stack(seeds_a, 0.8), tuple(range(seeds_a))),
        SampleSet(classes, ids, labels, stack(seeds_b, 1.3), tuple(range(seeds_b))),
    )


def _displayed(row: SampleSet, metric) -> float:
    """What the leaderboard shows: the per-seed metric (scikit-learn), averaged over seeds."""
    return float(np.mean([metric(row.labels, p) for p in row.proba]))


def _f1(labels: np.ndarray, proba: np.ndarray) -> float:
    return f1_score(labels, proba.argmax(axis=1), average="macro", labels=range(proba.shape[1]), zero_division=0)


def _f1_numpy(labels: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """Macro F1 along the last axis (batched), checked against scikit-learn below."""
    scores = []
    for c in range(k):
        tp = ((predicted == c) & (labels == c)).sum(axis=-1)
        den = (predicted == c).sum(axis=-1) + (labels == c).sum(axis=-1)
        scores.append(np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0))
    return np.mean(scores, axis=0)


def _scipy_f1_test(a: SampleSet, b: SampleSet, n_resamples) -> stats._resampling.PermutationTestResult:
    """scipy's paired permutation test; x and y are codes into each seed slice's pool [A; B]."""
    n, k = len(a.labels), len(a.classes)
    assert a.n_seeds == b.n_seeds
    pools = [np.concatenate([pa.argmax(1), pb.argmax(1)]) for pa, pb in zip(a.proba, b.proba)]
    labels = np.concatenate([a.labels, a.labels])

    def statistic(x, y, axis):
        fa = np.mean([_f1_numpy(labels[x], pool[x], k) for pool in pools], axis=0)
        fb = np.mean([_f1_numpy(labels[y], pool[y], k) for pool in pools], axis=0)
        return fb - fa

    x, y = np.arange(n), np.arange(n) + n
    assert statistic(x[None], y[None], -1)[0] == pytest.approx(_displayed(b, _f1) - _displayed(a, _f1), abs=1e-12)
    return stats.permutation_test(
        (x, y), statistic, permutation_type="samples", vectorized=True, n_resamples=n_resamples, random_state=1
    )


@pytest.mark.parametrize("seeds", [1, 2])
def test_f1_delta_is_the_displayed_difference_and_p_matches_scipy(seeds: int) -> None:
    a, b = _rows(60, seeds, seeds, seed=3)
    (result,) = compare_with_top(("A", a), [("B", b)], "f1_macro", n_resamples=300, n_permutations=4000)
    assert result.delta == pytest.approx(_displayed(b, _f1) - _displayed(a, _f1), abs=1e-12)
    assert result.low <= result.delta <= result.high
    reference = _scipy_f1_test(a, b, n_resamples=4000)
    assert reference.statistic == pytest.approx(result.delta, abs=1e-12)
    assert 0.01 < reference.pvalue < 0.6  # a case where Monte-Carlo agreement means something
    p = reference.pvalue
    # the whole budget: two Monte Carlo estimates of one p-value, 4000 swaps each
    full = permutation_tests(a, b, ["f1_macro"], n_permutations=4000, stop_after=None)["f1_macro"]
    assert (full.method, full.n) == ("permutation", 4000)
    assert abs(full.p - p) < 5 * np.sqrt(2 * p * (1 - p) / 4000)
    # the default stops at the 100th swap as extreme as the observed delta (Besag-Clifford): p = 100 / swaps
    sequential = permutation_tests(a, b, ["f1_macro"], n_permutations=4000)["f1_macro"]
    assert result.method == "permutation" and result.p == sequential.p == pytest.approx(100 / sequential.n)
    assert sequential.n < 4000
    assert abs(sequential.p - p) < 5 * np.sqrt(p * (1 - p) / 4000 + p * (1 - p) / sequential.n)


def test_few_differing_samples_are_enumerated_exactly_like_scipy() -> None:
    a, b = _rows(40, 2, 2, seed=5)
    proba = a.proba.copy()
    proba[:, 9:] = b.proba[:, 9:]  # the rows differ on 9 samples only: 512 swap patterns
    a = SampleSet(a.classes, a.sample_ids, a.labels, proba, a.seeds)
    found = permutation_tests(a, b, ["f1_macro"], n_permutations=1000)["f1_macro"]
    assert (found.method, found.n) == ("permutation exact", 512)
    assert found.p_min == pytest.approx(2 / 512)
    # swapping identical samples changes nothing, so scipy's random swaps of all 40 estimate the same p
    reference = _scipy_f1_test(a, b, n_resamples=20000)
    assert found.delta == pytest.approx(reference.statistic, abs=1e-12)
    assert found.p == pytest.approx(reference.pvalue, abs=5 * np.sqrt(found.p * (1 - found.p) / 20000) + 1e-9)


def test_auroc_of_swapped_rows_matches_scipy_with_sklearn() -> None:
    a, b = _rows(10, 1, 1, seed=7, classes=("normal", "defect"))
    found = permutation_tests(a, b, ["auroc"], n_permutations=2000)["auroc"]
    assert found.method == "permutation exact" and found.n == 1024
    sa, sb = a.proba[0, :, 1], b.proba[0, :, 1]
    pool = np.concatenate([sa, sb])
    labels = np.concatenate([a.labels, a.labels])

    def statistic(x, y):
        return roc_auc_score(labels[y], pool[y]) - roc_auc_score(labels[x], pool[x])

    reference = stats.permutation_test(
        (np.arange(10), np.arange(10) + 10), statistic, permutation_type="samples", n_resamples=10**6
    )
    assert found.delta == pytest.approx(reference.statistic, abs=1e-12)
    assert found.p == pytest.approx(reference.pvalue, abs=1e-12)


def test_accuracy_sign_flip_is_exact_against_scipy_and_binomtest() -> None:
    a, b = _rows(14, 2, 2, seed=11)
    found = sign_flip_accuracy(a, b)
    right_a = (a.proba.argmax(2) == a.labels).mean(axis=0)  # [N] share of seeds right
    right_b = (b.proba.argmax(2) == b.labels).mean(axis=0)
    d = right_b - right_a
    def accuracy(y, p):
        return np.mean(p.argmax(1) == y)

    assert found.delta == pytest.approx(_displayed(b, accuracy) - _displayed(a, accuracy), abs=1e-12)
    reference = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=10**6)
    assert found.p == pytest.approx(reference.pvalue, abs=1e-12)
    # one seed each: the sign-flip test is the exact binomial test on the discordant samples
    a1, b1 = _rows(80, 1, 1, seed=2)
    one = sign_flip_accuracy(a1, b1)
    ra, rb = a1.proba[0].argmax(1) == a1.labels, b1.proba[0].argmax(1) == b1.labels
    bc, cb = int((ra & ~rb).sum()), int((~ra & rb).sum())
    assert one.p == pytest.approx(stats.binomtest(bc, bc + cb, 0.5).pvalue, rel=1e-9)
    (mc,) = compare_with_top(("A", a1), [("B", b1)], "accuracy", n_resamples=200)
    assert mc.method == "McNemar exact" and mc.p == pytest.approx(one.p, rel=1e-9)
    (two,) = compare_with_top(("A", a), [("B", b)], "accuracy", n_resamples=200)
    assert two.method == "sign-flip exact" and two.p == pytest.approx(found.p)


def test_a_seed_mean_is_not_its_soft_vote_ensemble() -> None:
    """The bug this replaces: a two-seed row and its across-seed soft vote tested as identical."""
    row, _ = _rows(300, 2, 1, seed=13)
    vote = SampleSet(row.classes, row.sample_ids, row.labels, row.proba.mean(axis=0)[None], ("vote",))
    (result,) = compare_with_top(("vote", vote), [("row", row)], "f1_macro", n_resamples=300, n_permutations=500)
    expected = _displayed(row, _f1) - _f1(vote.labels, vote.proba[0])
    assert result.delta == pytest.approx(expected, abs=1e-12) and result.delta != 0.0
    (acc,) = compare_with_top(("vote", vote), [("row", row)], "accuracy", n_resamples=300)
    assert acc.method == "sign-flip exact" and acc.p < 1.0


def test_unequal_seed_counts_keep_each_sides_mean() -> None:
    a, b = _rows(50, 1, 2, seed=17)
    found = permutation_tests(a, b, ["f1_macro", "brier"], n_permutations=300)
    assert found["f1_macro"].delta == pytest.approx(_displayed(b, _f1) - _displayed(a, _f1), abs=1e-12)

    def brier(y, p):
        return float(np.mean(((p - np.eye(3)[y]) ** 2).sum(axis=1)))

    assert found["brier"].delta == pytest.approx(_displayed(b, brier) - _displayed(a, brier), abs=1e-12)
    same = permutation_tests(a, a, ["f1_macro"], n_permutations=300)["f1_macro"]
    assert (same.delta, same.p, same.method) == (0.0, 1.0, "permutation exact")

"""Ensemble methods against scikit-learn and hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss as sk_log_loss

from harness import HarnessError
from harness_ensembles import HardVoting, SoftVoting, Stacking, WeightedAverage
from harness_ensembles.caruana import caruana_select


class StoredMember(ClassifierMixin, BaseEstimator):
    """A 'model' whose predictions are stored probabilities, looked up by sample index.

    ``X`` is a one-column array of row indices into ``proba``.
    """

    def __init__(self, proba=None):
        self.proba = proba

    def fit(self, X, y):
        self.classes_ = np.arange(self.proba.shape[1])
        return self

    def predict_proba(self, X):
        return self.proba[np.asarray(X)[:, 0].astype(int)]

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def frozen_members(proba: np.ndarray, labels: np.ndarray) -> list[tuple[str, FrozenEstimator]]:
    index = np.arange(proba.shape[1])[:, None]
    return [(f"m{i}", FrozenEstimator(StoredMember(p).fit(index, labels))) for i, p in enumerate(proba)]


def random_stack(seed: int, m: int, n: int, k: int, concentration: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.full(k, concentration), size=(m, n))
    labels = rng.integers(0, k, size=n)
    labels[:k] = np.arange(k)  # every class present
    return proba, labels


def one_hot_ish(p_true: list[float], labels: list[int]) -> np.ndarray:
    """Binary ``[N, 2]`` probabilities giving the true class ``p_true``."""
    out = np.zeros((len(labels), 2))
    for i, (p, y) in enumerate(zip(p_true, labels)):
        out[i, y], out[i, 1 - y] = p, 1 - p
    return out


@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 0.5, 3.0]])
def test_soft_voting_equals_sklearn(weights):
    proba, labels = random_stack(0, 4, 60, 3)
    ours = SoftVoting(weights=weights).fit(proba, labels)
    ref = VotingClassifier(frozen_members(proba, labels), voting="soft", weights=weights)
    X = np.arange(60)[:, None]
    ref.fit(X, labels)
    np.testing.assert_allclose(ours.predict_proba(proba), ref.predict_proba(X), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(ours.predict(proba), ref.predict(X))


@pytest.mark.parametrize("weights", [None, [1.0, 1.0, 2.0, 1.0], [0.5, 0.5, 0.5, 0.5]])
def test_hard_voting_equals_sklearn_including_ties(weights):
    proba, labels = random_stack(1, 4, 200, 3)
    ours = HardVoting(weights=weights).fit(proba, labels)
    ref = VotingClassifier(frozen_members(proba, labels), voting="hard", weights=weights)
    X = np.arange(200)[:, None]
    ref.fit(X, labels)
    votes = proba.argmax(axis=2)
    w = np.ones(4) if weights is None else np.asarray(weights)
    tallies = np.stack([np.bincount(votes[:, i], weights=w, minlength=3) for i in range(200)])
    tied = (tallies == tallies.max(axis=1, keepdims=True)).sum(axis=1) > 1
    assert tied.sum() > 10  # the data really exercises the tie-break
    np.testing.assert_array_equal(ours.predict(proba), ref.predict(X))
    np.testing.assert_allclose(ours.predict_proba(proba), tallies / w.sum())


def test_hard_voting_tie_goes_to_lowest_class():
    # two members, classes 2 and 1 -> tie -> class 1 (lowest index among the tied)
    proba = np.array([[[0.1, 0.2, 0.7]], [[0.1, 0.8, 0.1]]])
    assert HardVoting().fit(proba, np.array([0])).predict(proba).tolist() == [1]


@pytest.mark.parametrize("k", [2, 3])
def test_stacking_equals_sklearn_stacking(k):
    proba, labels = random_stack(2, 3, 240, k, concentration=0.7)
    rng = np.random.default_rng(3)
    labels = np.where(rng.random(240) < 0.7, proba[0].argmax(axis=1), labels)  # member 0 is informative
    val, test = slice(0, 160), slice(160, 240)
    ours = Stacking(meta_learner="logistic_regression").fit(proba[:, val], labels[val])
    ref = StackingClassifier(frozen_members(proba, labels), final_estimator=LogisticRegression(max_iter=1000, random_state=0),
                             cv="prefit", stack_method="predict_proba")
    X = np.arange(240)[:, None]
    ref.fit(X[val], labels[val])
    np.testing.assert_allclose(ours.predict_proba(proba[:, test]), ref.predict_proba(X[test]), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(proba[:, test]), ref.predict(X[test]))


def test_stacking_never_learns_a_signal_that_exists_only_in_test():
    rng = np.random.default_rng(4)
    n, k = 300, 3
    y_val, y_test = rng.integers(0, k, n), rng.integers(0, k, n)

    def noisy(y):  # an honest member: right about 70% of the time on both splits
        logits = 1.2 * np.eye(k)[y] + rng.normal(0, 1, (len(y), k))
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    leak_val = rng.dirichlet(np.ones(k), n)  # noise on validation
    leak_test = 0.98 * np.eye(k)[y_test] + 0.01  # perfectly encodes the test labels
    val = np.stack([noisy(y_val), noisy(y_val), leak_val])
    test = np.stack([noisy(y_test), noisy(y_test), leak_test])
    assert (leak_test.argmax(axis=1) == y_test).all()
    model = Stacking().fit(val, y_val)
    accuracy = (model.predict(test) == y_test).mean()
    assert accuracy < 0.9
    coef = np.abs(model.meta_.coef_)  # [K, 3 members * K]
    assert coef[:, 6:].max() < coef[:, :6].max() / 2


def test_stacking_meta_learners_from_the_table_only():
    proba, labels = random_stack(5, 2, 60, 3)
    for name in ("ridge", "knn", "random_forest"):
        out = Stacking(meta_learner=name, meta_options={"n_neighbors": 3} if name == "knn" else None).fit(proba, labels)
        p = out.predict_proba(proba)
        assert p.shape == (60, 3) and np.allclose(p.sum(axis=1), 1.0)
    with pytest.raises(HarnessError, match="unknown meta_learner"):
        Stacking(meta_learner="os.system").fit(proba, labels)
    with pytest.raises(HarnessError, match="meta_options"):
        Stacking(meta_options={"no_such_option": 1}).fit(proba, labels)


def test_caruana_picks_complementary_members_by_hand():
    labels = [0, 1]
    a = one_hot_ish([0.9, 0.2], labels)
    b = one_hot_ish([0.2, 0.9], labels)
    c = one_hot_ish([0.45, 0.45], labels)
    proba = np.stack([a, b, c])
    y = np.array(labels)
    # round 1: c alone has the lowest log-loss; round 2: c+a (tied with c+b, lower index);
    # round 3: c+a+b; round 4: a and b tie, both already chosen -> lower index a
    assert caruana_select(proba, y, 1).tolist() == [0, 0, 1]
    assert caruana_select(proba, y, 3).tolist() == [1, 1, 1]
    assert caruana_select(proba, y, 4).tolist() == [2, 1, 1]
    assert sk_log_loss(y, (a + b + c)[:, 1] / 3) < sk_log_loss(y, c[:, 1])


def test_caruana_ties_prefer_members_already_chosen():
    labels = np.array([0, 0, 1, 1])
    x = one_hot_ish([0.4, 0.4, 0.6, 0.4], labels.tolist())  # accuracy 0.25
    bad = one_hot_ish([0.1, 0.1, 0.1, 0.1], labels.tolist())  # accuracy 0
    y_member = one_hot_ish([0.9, 0.9, 0.9, 0.4], labels.tolist())  # accuracy 0.75
    proba = np.stack([x, bad, y_member])
    # round 2: adding x (index 0, unchosen) or y (index 2, chosen) both give 0.75 -> y
    assert caruana_select(proba, labels, 3, metric="accuracy").tolist() == [0, 0, 3]


def test_weighted_caruana_weights_and_explicit_weights():
    proba, labels = random_stack(6, 3, 80, 3)
    fitted = WeightedAverage(ensemble_size=10).fit(proba, labels)
    np.testing.assert_allclose(fitted.weights_, fitted.counts_ / 10)
    np.testing.assert_allclose(fitted.predict_proba(proba), np.tensordot(fitted.weights_, proba, axes=1))
    explicit = WeightedAverage(weights=[1, 0, 3]).fit(proba, labels)
    np.testing.assert_allclose(explicit.predict_proba(proba), (proba[0] + 3 * proba[2]) / 4)
    with pytest.raises(HarnessError, match="3 members"):
        WeightedAverage(weights=[1, 2]).fit(proba, labels)


def test_weighted_optuna_is_seeded_and_no_worse_than_uniform():
    proba, labels = random_stack(7, 3, 80, 3)
    proba[1] = 0.5 * proba[1] + 0.5 * np.eye(3)[labels]  # one member worth more weight
    first = WeightedAverage(search="optuna", n_trials=12, seed=1).fit(proba, labels)
    again = WeightedAverage(search="optuna", n_trials=12, seed=1).fit(proba, labels)
    np.testing.assert_array_equal(first.weights_, again.weights_)
    assert first.weights_.sum() == pytest.approx(1.0)
    uniform = sk_log_loss(labels, proba.mean(axis=0), labels=[0, 1, 2])
    assert sk_log_loss(labels, first.predict_proba(proba), labels=[0, 1, 2]) <= uniform
    assert first.weights_[1] == first.weights_.max()


def test_registered_with_checks(plugins_with_ensembles):
    registry = plugins_with_ensembles.registry("ensembles")
    assert {"hard-voting", "soft-voting", "weighted", "stacking"} <= set(registry.names())
    check = registry.entry("weighted").check
    assert check({"ensemble_size": 5, "metric": "accuracy"}) == []
    keys = [k for k, _ in check({"weigths": [1, 2], "metric": "f1", "search": "optuna", "ensemble_size": 3})]
    assert keys == ["weigths", "metric"]  # rules across options wait until every value is well typed
    keys = [k for k, _ in check({"weigths": [1, 2], "search": "optuna", "ensemble_size": 3})]
    assert keys == ["weigths", "ensemble_size"]  # an unknown key does not stop them
    assert "Did you mean 'weights'" in check({"weigths": [1]})[0][1]
    assert [k for k, _ in check({"weights": [1, 2], "search": "optuna"})] == ["search"]
    assert registry.entry("soft-voting").check({"weights": [1, -1]})[0][0] == "weights"
    stacking = registry.entry("stacking").check
    assert stacking({"meta_learner": "svc", "meta_options": {"C": 2.0}}) == []
    assert stacking({"meta_learner": "__import__('os')"})[0][0] == "meta_learner"


@pytest.fixture(scope="module")
def plugins_with_ensembles():
    from harness.plugins import build_plugins

    return build_plugins()

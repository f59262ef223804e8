"""Stacking: a scikit-learn meta-learner over the members' probabilities.

Features are the members' probabilities side by side, exactly as scikit-learn's
``StackingClassifier(stack_method="predict_proba")`` builds them: ``[N, M * K]``, or
``[N, M]`` in the binary case where the first column of each member is dropped (it is
one minus the second). The meta-learner is fitted on validation (or out-of-fold)
predictions only; the engine never hands it test labels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from harness import Ensemble, HarnessError
from harness_ensembles.arrays import check_stack


def _logistic_regression(seed: int, **options: Any) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**{"max_iter": 1000, "random_state": seed, **options})


def _ridge(seed: int, **options: Any) -> Any:
    from sklearn.linear_model import RidgeClassifier

    return RidgeClassifier(**{"random_state": seed, **options})


def _random_forest(seed: int, **options: Any) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(**{"n_estimators": 100, "random_state": seed, **options})


def _gradient_boosting(seed: int, **options: Any) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(**{"random_state": seed, **options})


def _svc(seed: int, **options: Any) -> Any:
    from sklearn.svm import SVC

    return SVC(**{"probability": True, "random_state": seed, **options})


def _knn(seed: int, **options: Any) -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(**options)


META_LEARNERS: dict[str, Callable[..., Any]] = {
    "logistic_regression": _logistic_regression,
    "ridge": _ridge,
    "random_forest": _random_forest,
    "gradient_boosting": _gradient_boosting,
    "svc": _svc,
    "knn": _knn,
}
"""The meta-learners a config may name: a fixed table, never an import of a user string."""

LINEAR_STATE = {name: ("coef_", "intercept_", "classes_", "n_features_in_")
                for name in ("logistic_regression", "ridge")}
"""Meta-learners fully described by their fitted linear coefficients."""


def stack_features(proba: np.ndarray) -> np.ndarray:
    """``[M, N, K]`` to the meta-learner's ``[N, M * K]`` input (``[N, M]`` when ``K == 2``)."""
    proba = check_stack(proba)
    if proba.shape[2] == 2:
        proba = proba[:, :, 1:]
    return np.concatenate(list(proba), axis=1)


def meta_proba(meta: Any, features: np.ndarray, n_classes: int) -> np.ndarray:
    """``[N, K]`` class probabilities from a fitted meta-learner.

    A learner without ``predict_proba`` (ridge) gives the softmax of its decision
    function (a logistic sigmoid when binary). Classes absent from the fit labels get 0.
    """
    if hasattr(meta, "predict_proba"):
        scores = meta.predict_proba(features)
    else:
        decision = meta.decision_function(features)
        if decision.ndim == 1:
            decision = np.stack([-decision / 2, decision / 2], axis=1)  # softmax of this = sigmoid(decision)
        shifted = np.exp(decision - decision.max(axis=1, keepdims=True))
        scores = shifted / shifted.sum(axis=1, keepdims=True)
    out = np.zeros((features.shape[0], n_classes))
    out[:, np.asarray(meta.classes_, dtype=np.int64)] = scores
    return out


class Stacking(Ensemble):
    """A meta-learner trained on the members' probabilities.

    Args:
        meta_learner: a key of :data:`META_LEARNERS`.
        meta_options: keyword arguments of the meta-learner's constructor.
        seed: its ``random_state`` where it has one.

    Attributes:
        meta_: the fitted scikit-learn classifier.
        n_classes_: ``K``.
    """

    def __init__(self, meta_learner: str = "logistic_regression", meta_options: dict[str, Any] | None = None,
                 seed: int = 0):
        self.meta_learner = meta_learner
        self.meta_options = meta_options
        self.seed = seed

    def _build(self) -> Any:
        if self.meta_learner not in META_LEARNERS:
            raise HarnessError(f"unknown meta_learner {self.meta_learner!r}; choose from {', '.join(META_LEARNERS)}")
        try:
            return META_LEARNERS[self.meta_learner](self.seed, **(self.meta_options or {}))
        except TypeError as exc:
            raise HarnessError(f"meta_options for {self.meta_learner!r}: {exc}") from None

    def fit(self, proba: np.ndarray, labels: np.ndarray) -> Stacking:
        """Fit the meta-learner on validation (or out-of-fold) probabilities and labels."""
        proba = check_stack(proba, labels)
        labels = np.asarray(labels, dtype=np.int64)
        if np.unique(labels).size < 2:
            raise HarnessError("stacking needs at least two classes among the fit labels")
        self.n_classes_ = proba.shape[2]
        self.meta_ = self._build()
        features = stack_features(proba)
        self.meta_.fit(features, labels)
        self._fit_data = (features, labels)  # what get_state stores for learners without plain coefficients
        return self

    def predict_proba(self, proba: np.ndarray) -> np.ndarray:
        """``[N, K]`` meta-learner probabilities."""
        return meta_proba(self.meta_, stack_features(proba), self.n_classes_)

    def predict(self, proba: np.ndarray) -> np.ndarray:
        """``[N]`` most probable class."""
        return self.predict_proba(proba).argmax(axis=1)

    def get_state(self) -> dict[str, np.ndarray]:
        """The fitted meta-learner as plain arrays (no pickle), stored beside the row.

        Linear learners (``logistic_regression``, ``ridge``) keep their coefficients, so
        :meth:`set_state` predicts without fitting; ``knn`` keeps its reference points (all
        it ever holds); the others keep their fit features and labels and are fitted again,
        with the same seed, when the row is loaded (deterministic).
        """
        state = {"n_classes_": np.asarray(self.n_classes_)}
        if self.meta_learner in LINEAR_STATE:
            state.update({name: np.asarray(getattr(self.meta_, name)) for name in LINEAR_STATE[self.meta_learner]})
        else:
            state["fit_features"], state["fit_labels"] = self._fit_data
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> Stacking:
        """Restore what :meth:`get_state` returned."""
        self.n_classes_ = int(state["n_classes_"])
        self.meta_ = self._build()
        if "fit_features" in state:
            self.meta_.fit(np.asarray(state["fit_features"]), np.asarray(state["fit_labels"], dtype=np.int64))
            return self
        for name in LINEAR_STATE[self.meta_learner]:
            value = np.asarray(state[name])
            setattr(self.meta_, name, int(value) if name == "n_features_in_" else value)
        return self

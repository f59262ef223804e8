"""What an ensemble gains from its members: the content of ``analysis.json``.

Format (every number a float; ``null`` where undefined)::

    {
      "split": "test",                      # where everything below is measured
      "fit_split": "val",                   # what the method (and each re-fit) saw
      "members": [{"id", "row", "accuracy", "f1_macro", "log_loss"}, ...],
      "ensemble": {"accuracy", "f1_macro", "log_loss"},
      "oracle_accuracy": 0.97,              # a sample counts when ANY member is right
      "disagreement": [[0.0, 0.12], ...],   # M x M: share of samples whose argmax differ
      "mean_disagreement": 0.12,            # mean over member pairs
      "leave_one_out": [{"id", "row",
                         "without": {"accuracy", "f1_macro", "log_loss"},
                         "contribution": {"accuracy", "f1_macro", "log_loss"}}, ...]
    }

``contribution`` is positive when the member helps: the ensemble's score minus the
score of the same method re-fitted without that member (for ``log_loss``, lower is
better, so it is the loss without the member minus the loss with it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.metrics import classification_metrics

if TYPE_CHECKING:
    from harness.ensembles.members import MemberData

EPS = 1e-15


def scores(labels: np.ndarray, proba: np.ndarray, classes: tuple[str, ...]) -> dict[str, float]:
    """``accuracy``, ``f1_macro`` and ``log_loss`` of ``[N, K]`` probabilities."""
    found = classification_metrics(labels, proba, classes)
    picked = np.clip(proba[np.arange(len(labels)), labels], EPS, 1.0)
    return {"accuracy": found["accuracy"], "f1_macro": found["f1_macro"], "log_loss": float(-np.log(picked).mean())}


def disagreement(predicted: np.ndarray) -> np.ndarray:
    """``[M, M]`` share of samples on which two members' predicted classes differ."""
    return (predicted[:, None, :] != predicted[None, :, :]).mean(axis=2)


def _without(options: dict[str, Any], m: int) -> dict[str, Any]:
    """Options for the ensemble without member ``m`` (its explicit weight dropped)."""
    if isinstance(options.get("weights"), list):
        return {**options, "weights": [w for i, w in enumerate(options["weights"]) if i != m]}
    return dict(options)


def _contribution(full: dict[str, float], without: dict[str, float]) -> dict[str, float]:
    return {k: (without[k] - full[k]) if k == "log_loss" else (full[k] - without[k]) for k in full}


def analyse(build: Callable[[dict[str, Any]], Any], options: dict[str, Any], data: MemberData,
            ensemble_test: np.ndarray, split: str = "test") -> dict[str, Any]:
    """Diversity, oracle accuracy and leave-one-out contributions of an ensemble.

    Args:
        build: ``build(options)`` returns a fresh, unfitted estimator of the method.
        options: the method's options.
        data: the members' aligned predictions.
        ensemble_test: ``[N, K]`` the ensemble's probabilities on ``split``.
        split: where to measure.
    """
    proba, labels, classes = data.proba[split], data.labels[split], data.classes
    fit = data.fit_split
    predicted = proba.argmax(axis=2)  # [M, N]
    pairwise = disagreement(predicted)
    m = len(data.records)
    full = scores(labels, ensemble_test, classes)
    loo = []
    for i in range(m if m > 1 else 0):  # with two members, "without" is the other model alone
        keep = [j for j in range(m) if j != i]
        refit = build(_without(options, i)).fit(data.proba[fit][keep], data.labels[fit])
        without = scores(labels, np.asarray(refit.predict_proba(proba[keep]), dtype=np.float64), classes)
        loo.append({"id": data.records[i].id, "row": data.records[i].row, "without": without,
                    "contribution": _contribution(full, without)})
    return {
        "split": split,
        "fit_split": fit,
        "members": [{"id": r.id, "row": r.row, **scores(labels, proba[k], classes)} for k, r in enumerate(data.records)],
        "ensemble": full,
        "oracle_accuracy": float((predicted == labels[None, :]).any(axis=0).mean()),
        "disagreement": pairwise.tolist(),
        "mean_disagreement": float(pairwise[np.triu_indices(m, k=1)].mean()),
        "leave_one_out": loo,
    }

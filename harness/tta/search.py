"""Choosing TTA views and a merge on validation: greedy forward selection from identity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.metrics import lower_is_better
from harness.predictions import PredictionSet
from harness.tta import TTAViews

EPS = 1e-15
MIN_GAIN = 1e-12  # an addition must beat the current score by more than float noise


@dataclass(frozen=True)
class Scorer:
    """A validation score of ``[N, K]`` probabilities; ``higher`` tells its direction."""

    metric: str
    higher: bool
    fn: Callable[[np.ndarray, np.ndarray], float]

    def better(self, a: float, b: float) -> bool:
        """Whether score ``a`` beats ``b`` by more than float noise."""
        return a > b + MIN_GAIN if self.higher else a < b - MIN_GAIN


def _log_loss(proba: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(np.clip(proba[np.arange(len(labels)), labels], EPS, 1.0)).mean())


def scorer(select_by: str, metric_fns: list[Callable[[PredictionSet], dict[str, float]]], classes: tuple[str, ...],
           labels: np.ndarray, probe: np.ndarray) -> Scorer:
    """The experiment's selection metric on probabilities, or accuracy when it needs more.

    ``val.loss`` / ``val.log_loss`` become the mean negative log-likelihood; any other
    name is looked up among the registered metric families' outputs on ``probe``.
    """
    name = select_by.split(".", 1)[1] if select_by.startswith("val.") else select_by
    if name in ("loss", "log_loss"):
        return Scorer("log_loss", False, _log_loss)

    def from_families(key: str) -> Callable[[np.ndarray, np.ndarray], float]:
        def fn(proba: np.ndarray, y: np.ndarray) -> float:
            pred = PredictionSet(classes, tuple(str(i) for i in range(len(y))), y, proba)
            found: dict[str, float] = {}
            for metric in metric_fns:
                found.update(metric(pred))
            return float(found[key])

        return fn

    try:
        value = from_families(name)(probe, labels)
    except KeyError:
        value = float("nan")
    if not np.isfinite(value):
        name = "accuracy"
        return Scorer(name, True, lambda p, y: float(np.mean(p.argmax(axis=1) == y)))
    return Scorer(name, not lower_is_better(name), from_families(name))


@dataclass
class Search:
    """The outcome of a TTA search on validation."""

    views: list[str]
    merge: str
    score: float
    identity_score: float
    scorer: Scorer
    cost: int
    path: list[dict[str, Any]] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """What the derived folder's ``config.json`` records about the search."""
        gain = self.score - self.identity_score if self.scorer.higher else self.identity_score - self.score
        return {"search_metric": f"val.{self.scorer.metric}", "chosen_views": list(self.views),
                "chosen_merge": self.merge, "val_score": self.score, "val_score_identity": self.identity_score,
                "val_gain": gain, "cost_multiplier": self.cost, "search_path": self.path}


def _greedy(val: TTAViews, labels: np.ndarray, candidates: list[str], merge: Any, costs: dict[str, int],
            score: Scorer) -> tuple[list[str], float, list[dict[str, Any]]]:
    chosen = ["identity"]
    best = score.fn(merge(val.select(chosen)), labels)
    path = [{"merge": merge.name, "views": list(chosen), "score": best}]
    while True:
        trials = [(score.fn(merge(val.select([*chosen, v])), labels), v) for v in candidates if v not in chosen]
        if not trials:
            break
        top, view = trials[0]
        for s, v in trials[1:]:  # the better score wins, then the cheaper view, then candidate order
            if score.better(s, top) or (not score.better(top, s) and costs[v] < costs[view]):
                top, view = s, v
        if not score.better(top, best):
            break
        chosen.append(view)
        best = top
        path.append({"merge": merge.name, "views": list(chosen), "score": best})
    return chosen, best, path


def greedy_search(val: TTAViews, labels: np.ndarray, candidates: list[str], merges: dict[str, Any],
                  costs: dict[str, int], metric_fns: list[Callable[[PredictionSet], dict[str, float]]],
                  classes: tuple[str, ...], select_by: str) -> Search:
    """Greedy forward selection of views, per merge, keeping the best merge on validation.

    Starting from ``identity``, each round adds the candidate view that improves the
    validation score most, until none does. Among merges the best score wins, then the
    fewer forward passes, then the order of ``[tta] merge``.

    Raises:
        HarnessError: ``identity`` was not stored.
    """
    if "identity" not in val.views:
        raise HarnessError('the TTA search starts from the "identity" view: add it to [tta] views')
    if not merges:
        raise HarnessError("the TTA search needs at least one merge")
    identity = val.select(["identity"])[0]
    score = scorer(select_by, metric_fns, classes, labels, identity)
    result: Search | None = None
    paths: list[dict[str, Any]] = []
    for name, merge in merges.items():
        views, best, path = _greedy(val, labels, candidates, merge, costs, score)
        paths.extend(path)
        cost = sum(costs[v] for v in views)
        if result is None or score.better(best, result.score) or (not score.better(result.score, best)
                                                                  and cost < result.cost):
            result = Search(views, name, best, score.fn(identity, labels), score, cost)
    result.path = paths
    return result

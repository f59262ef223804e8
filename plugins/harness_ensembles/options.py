"""Option checks of the ensemble methods, declared with :mod:`harness.options`: no heavy imports."""

from __future__ import annotations

from typing import Any

from harness import options as opt
from harness_ensembles.stacking import META_LEARNERS

METRICS = ("log_loss", "accuracy")
SEARCHES = ("caruana", "optuna")


def _positive_sum(weights: list[Any]) -> str | None:
    return None if sum(weights) > 0 else f"must have a positive sum, got {weights!r}"


WEIGHTS = opt.List(opt.Float(min=0), min_items=1, nullable=True, rule=_positive_sum,
                   doc="one non-negative weight per member (default: uniform or searched)")


def _scalars(table: Any) -> str | None:
    if all(isinstance(v, str | int | float | bool) for v in table.values()):
        return None
    return f"must be a table of scalar constructor arguments, got {table!r}"


def _weighted_rules(options: dict[str, Any]) -> list[opt.Problem]:
    problems = []
    if "weights" in options:
        for key in ("search", "ensemble_size", "n_trials", "metric"):
            if key in options:
                problems.append(opt.Problem(key, "weights are given, so nothing is searched: remove this or `weights`"))
        return problems
    search = options.get("search", "caruana")
    if "n_trials" in options and search != "optuna":
        problems.append(opt.Problem("n_trials", 'only applies to search = "optuna"'))
    if "ensemble_size" in options and search != "caruana":
        problems.append(opt.Problem("ensemble_size", 'only applies to search = "caruana"'))
    return problems


HARD_VOTING = opt.Options("ensemble 'hard-voting'", weights=WEIGHTS)
SOFT_VOTING = opt.Options("ensemble 'soft-voting'", weights=WEIGHTS)
WEIGHTED = opt.Options(
    "ensemble 'weighted'",
    extra=_weighted_rules,
    weights=WEIGHTS,
    search=opt.Choice(*SEARCHES, default="caruana"),
    ensemble_size=opt.Int(20, min=1, doc="Caruana rounds"),
    metric=opt.Choice(*METRICS, default="log_loss", doc="scored on the fit data"),
    n_trials=opt.Int(50, min=1, doc="Optuna trials"),
    seed=opt.Int(0, doc="Optuna sampler seed"),
)
STACKING = opt.Options(
    "ensemble 'stacking'",
    meta_learner=opt.Choice(*META_LEARNERS, default="logistic_regression"),
    meta_options=opt.Table({}, rule=_scalars, doc="keyword arguments of the meta-learner"),
    seed=opt.Int(0, doc="the meta-learner's random_state"),
)
KFOLD = opt.Options("ensemble 'kfold'", k=opt.Int(5, min=2, max=50, doc="folds of train + val"))
SNAPSHOT = opt.Options("ensemble 'snapshot'")

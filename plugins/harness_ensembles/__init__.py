"""Built-in ensemble methods.

Ensemble methods follow scikit-learn's conventions and work on stored probabilities
only: a factory ``factory(**options)`` returns an estimator with
``fit(proba [M, N, K], labels [N])`` (validation or out-of-fold data) and
``predict_proba(proba [M, N, K]) -> [N, K]``; a ``weights_`` attribute, when present,
holds one weight per member. TTA entries are :class:`~harness_tta.views.View`
(``kind == "view"``) and :class:`~harness_tta.merges.Merge` (``kind == "merge"``)
objects returned by their factories. Registering imports neither torch nor sklearn.
"""

from __future__ import annotations

from typing import Any

from harness import hookimpl
from harness_ensembles import options as opts
from harness_ensembles.stacking import META_LEARNERS, Stacking
from harness_ensembles.trained import check_kfold, check_snapshot, kfold, snapshot
from harness_ensembles.voting import HardVoting, SoftVoting
from harness_ensembles.weighted import WeightedAverage

__all__ = ["HardVoting", "SoftVoting", "Stacking", "WeightedAverage"]

def _check_stacking(options: dict[str, Any]) -> list[tuple[str, str]]:
    return opts.check_stacking(options, tuple(META_LEARNERS))


@hookimpl
def harness_register_ensembles(registry: Any) -> None:
    """Register ``hard-voting``, ``soft-voting``, ``weighted``, ``stacking``, ``kfold`` and ``snapshot``."""
    registry.register("hard-voting", HardVoting, check=opts.check_voting,
                      description="weighted majority of the members' predicted classes (sklearn tie-break)")
    registry.register("soft-voting", SoftVoting, check=opts.check_voting,
                      description="weighted average of the members' probabilities")
    registry.register("weighted", WeightedAverage, check=opts.check_weighted,
                      description="weights chosen on validation: Caruana greedy selection or an Optuna search")
    registry.register("stacking", Stacking, check=_check_stacking,
                      description=f"a meta-learner on validation probabilities ({', '.join(META_LEARNERS)})")
    registry.register("kfold", kfold, check=check_kfold,
                      description="k-fold cross-validation models of one configuration, test predictions averaged")
    registry.register("snapshot", snapshot, check=check_snapshot,
                      description="snapshots at the end of each cosine_warm_restart cycle, averaged")


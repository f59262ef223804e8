"""Built-in ensemble methods.

Every method is a subclass of :class:`harness.Ensemble` and follows scikit-learn's
conventions on stored probabilities only: ``Method(**options)`` stores the options,
``fit(proba [M, N, K], labels [N])`` learns on validation or out-of-fold data and
``predict_proba(proba [M, N, K]) -> [N, K]``; ``weights_`` holds one weight per member
(None for stacking). ``kfold`` and ``snapshot`` declare ``source = "folds"`` /
``"snapshots"``. Registering imports neither torch nor sklearn.
"""

from __future__ import annotations

from typing import Any

from harness import hookimpl
from harness_ensembles import options as opts
from harness_ensembles.stacking import META_LEARNERS, Stacking
from harness_ensembles.trained import KFold, Snapshot
from harness_ensembles.voting import HardVoting, SoftVoting
from harness_ensembles.weighted import WeightedAverage

__all__ = ["HardVoting", "KFold", "SoftVoting", "Snapshot", "Stacking", "WeightedAverage"]


@hookimpl
def harness_register_ensembles(registry: Any) -> None:
    """Register ``hard-voting``, ``soft-voting``, ``weighted``, ``stacking``, ``kfold`` and ``snapshot``."""
    registry.register("hard-voting", HardVoting, check=opts.HARD_VOTING.check, example={},
                      description="weighted majority of the members' predicted classes (sklearn tie-break)")
    registry.register("soft-voting", SoftVoting, check=opts.SOFT_VOTING.check, example={},
                      description="weighted average of the members' probabilities")
    registry.register("weighted", WeightedAverage, check=opts.WEIGHTED.check, example={"ensemble_size": 5},
                      description="weights chosen on validation: Caruana greedy selection or an Optuna search")
    registry.register("stacking", Stacking, check=opts.STACKING.check, example={},
                      description=f"a meta-learner on validation probabilities ({', '.join(META_LEARNERS)})")
    registry.register("kfold", KFold, check=opts.KFOLD.check, example={"k": 3},
                      description="k-fold cross-validation models of one configuration, test predictions averaged")
    registry.register("snapshot", Snapshot, check=opts.SNAPSHOT.check, example={},
                      description="snapshots at the end of each cosine_warm_restart cycle, averaged")


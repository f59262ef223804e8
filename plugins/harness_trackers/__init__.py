"""Experiment trackers: ``mlflow`` (runs per cell under a run per experiment) and ``tensorboard``.

Named by ``[[tracker]]`` blocks of an experiment file; both need the ``tracking`` extra
(``pip install 'harness[tracking]'``). Options: see :mod:`harness_trackers.mlflow_tracker`
and :mod:`harness_trackers.tensorboard_tracker`.
"""

from __future__ import annotations

from harness import hookimpl
from harness_trackers.mlflow_tracker import OPTIONS as MLFLOW_OPTIONS
from harness_trackers.mlflow_tracker import MlflowTracker
from harness_trackers.tensorboard_tracker import OPTIONS as TENSORBOARD_OPTIONS
from harness_trackers.tensorboard_tracker import TensorBoardTracker


@hookimpl
def harness_register_trackers(registry) -> None:
    registry.register("mlflow", MlflowTracker, check=MLFLOW_OPTIONS.check, example={"retries": 0})
    registry.register("tensorboard", TensorBoardTracker, check=TENSORBOARD_OPTIONS.check)

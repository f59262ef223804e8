"""What a scheduler plugin returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Schedule:
    """A torch learning-rate scheduler and when the training loop steps it.

    Attributes:
        scheduler: a ``torch.optim.lr_scheduler`` object.
        interval: ``"step"`` to step after every optimizer step, ``"epoch"`` after every
            epoch. A ``ReduceLROnPlateau`` is stepped per epoch with the monitored
            validation metric.
        monitor_mode: for plateau schedulers, ``"max"`` or ``"min"`` of the metric.
        cycle_end_epochs: epochs (counted from 1, increasing, within the run) at which a
            cycle of a warm-restart schedule ends and the learning rate is at its
            minimum; the training loop stores a snapshot there for ``snapshot``
            ensembles. Empty for schedules without cycles.
    """

    scheduler: Any
    interval: Literal["step", "epoch"] = "epoch"
    monitor_mode: Literal["max", "min"] = "max"
    cycle_end_epochs: tuple[int, ...] = ()

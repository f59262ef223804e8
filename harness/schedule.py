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
    """

    scheduler: Any
    interval: Literal["step", "epoch"] = "epoch"
    monitor_mode: Literal["max", "min"] = "max"

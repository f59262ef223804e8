"""Built-in training plugins: losses, optimizers and learning-rate schedulers.

Registering imports no torch; each factory imports it when it builds something.
"""

from __future__ import annotations

from typing import Any

from harness import hookimpl
from harness_train import losses, optimizers, schedulers


@hookimpl
def harness_register_losses(registry: Any) -> None:
    """Register ``ce``, ``weighted_ce`` and ``focal``."""
    losses.register(registry)


@hookimpl
def harness_register_optimizers(registry: Any) -> None:
    """Register ``adam``, ``adamw`` and ``sgd``."""
    optimizers.register(registry)


@hookimpl
def harness_register_schedulers(registry: Any) -> None:
    """Register ``none``, ``cosine``, ``step``, ``exponential``, ``plateau``, ``warmup_cosine``,
    ``warmup_linear`` and ``cosine_warm_restart``."""
    schedulers.register(registry)

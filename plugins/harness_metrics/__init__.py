"""Built-in metrics: the ``classification`` family (accuracy, per-class precision,
recall, F1 and support, macro and weighted averages, balanced accuracy, AUROC)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness import hookimpl
from harness_metrics.classification import classification

if TYPE_CHECKING:
    from harness import Registry


@hookimpl
def harness_register_metrics(registry: Registry) -> None:
    """Register the ``classification`` metric family."""
    registry.register(
        "classification",
        classification,
        description="accuracy, balanced accuracy, per-class P/R/F1/support, macro/weighted F1, AUROC",
    )

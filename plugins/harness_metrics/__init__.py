"""Built-in metrics: the ``classification`` family (accuracy, per-class precision,
recall, F1 and support, macro and weighted averages, balanced accuracy, AUROC) and the
``anomaly`` family (image AUROC / AUPR / F1-max, pixel AUROC, AUPRO) of defect data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness import hookimpl
from harness_metrics.anomaly import OPTIONS as ANOMALY_OPTIONS
from harness_metrics.anomaly import anomaly
from harness_metrics.classification import classification

if TYPE_CHECKING:
    from harness import Registry


@hookimpl
def harness_register_metrics(registry: Registry) -> None:
    """Register the ``classification`` and ``anomaly`` metric families."""
    registry.register(
        "classification",
        classification,
        description="accuracy, balanced accuracy, per-class P/R/F1/support, macro/weighted F1, AUROC",
    )
    registry.register(
        "anomaly",
        anomaly,
        description="normal vs defect: image AUROC, AUPR, F1-max (+ threshold); pixel AUROC and AUPRO from anomaly maps",
        check=ANOMALY_OPTIONS.check,
    )

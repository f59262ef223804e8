"""The ``anomaly`` metric family: how well a row separates defects from normal images.

Computed for every row of a two-class data set, the normal class being the one named
``normal``, ``good`` or ``ok`` (else the first class): a one-class row's stored anomaly
score, or a classifier's ``p(defect)``, against "is a defect" (image AUROC, AUPR, F1-max and its threshold); with
anomaly maps and masks (one-class rows) also pixel AUROC and AUPRO (FPR limit 0.3 unless
``[metrics.anomaly] fpr_limit`` says otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness import anomaly_metrics
from harness import options as opt

if TYPE_CHECKING:
    from harness import PredictionSet

NORMAL_NAMES = ("normal", "good", "ok")
OPTIONS = opt.Options(
    "metric family 'anomaly'",
    fpr_limit=opt.Float(default=0.3, gt=0, max=1, doc="AUPRO's false-positive-rate limit (anomalib's 0.3)"),
)


def anomaly(pred: PredictionSet, *, fpr_limit: float = 0.3) -> dict[str, float]:
    """``image_auroc``, ``image_aupr``, ``f1_max``, ``f1_max_threshold`` (+ ``pixel_auroc``, ``aupro``), or {}.

    Args:
        pred: one split's predictions.
        fpr_limit: AUPRO's false-positive-rate limit, in (0, 1].
    """
    if len(pred.classes) != 2:
        return {}
    named = [i for i, name in enumerate(pred.classes) if name in NORMAL_NAMES]
    defect = 1 - (named[0] if len(named) == 1 else 0)
    return anomaly_metrics(pred.labels == defect, pred.anomaly_scores(defect), pred.maps.get("anomaly"), pred.masks,
                           fpr_limit=fpr_limit)

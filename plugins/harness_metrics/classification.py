"""Classification metrics of a :class:`harness.PredictionSet`.

The arithmetic lives in the core (exported as ``harness.classification_metrics`` and friends) so that the leaderboard can use
the same confusion matrix without loading a plugin; this module is the metric function
the registry hands out, plus the helpers re-exported for plugin authors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness import classification_metrics, confusion_matrix, per_class_scores, roc_auc, roc_auc_ovr

if TYPE_CHECKING:
    from harness import PredictionSet

__all__ = ["classification", "confusion_matrix", "per_class_scores", "roc_auc", "roc_auc_ovr"]


def classification(pred: PredictionSet) -> dict[str, float]:
    """Every classification metric of ``pred``, predicting the most probable class.

    Args:
        pred: stored predictions of one split.

    Returns:
        ``accuracy``, ``balanced_accuracy``, ``precision_<class>``, ``recall_<class>``,
        ``f1_<class>``, ``support_<class>`` for each class name, ``precision_macro``,
        ``recall_macro``, ``f1_macro``, ``f1_weighted`` and ``auroc`` (ROC AUC of class 1
        when binary, one-vs-rest macro otherwise; NaN when a class has no samples).
        Ratios with a zero denominator are ``0.0``.
    """
    return classification_metrics(pred.labels, pred.proba, pred.classes)

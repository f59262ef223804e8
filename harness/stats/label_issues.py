"""Samples whose given label is probably wrong, by confident learning (cleanlab).

The probabilities are out of sample (validation and test predictions of models that
never trained on them), averaged over every trained row and seed. The candidates are
the samples cleanlab's ``find_label_issues`` flags (the given label disagrees with the
per-class confident thresholds) and the samples most rows get wrong; they are ranked by
cleanlab's self-confidence score (the averaged probability of the given label, lowest
first). Both are needed: when a model is equally sure of every image of a class, the
confident threshold (that class's mean probability) sits in the middle of its own
images, and about half of the mislabelled ones fall just below it and go unflagged,
although every row gets them wrong.
cleanlab is an optional dependency: ``pip install harness[labels]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.errors import HarnessError


def find_issues(
    sample_ids: Sequence[str],
    labels: np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str],
    wrong_share: np.ndarray,
) -> list[dict[str, Any]]:
    """Flagged samples, most likely mislabelled first.

    Args:
        sample_ids: ``N`` ids.
        labels: ``[N]`` given labels.
        proba: ``[N, K]`` out-of-sample probabilities (averaged over rows and seeds).
        classes: ``K`` names.
        wrong_share: ``[N]`` share of rows whose seed-averaged prediction is wrong.

    Returns:
        One dict per candidate, most likely mislabelled first: ``sample_id``,
        ``given``, ``suggested``, ``quality`` (self-confidence), ``confidence``
        (averaged probability of the suggested class), ``wrong_share`` and
        ``flagged`` (cleanlab flagged it).

    Raises:
        HarnessError: cleanlab is not installed.
    """
    try:
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores
    except ImportError:
        raise HarnessError("label issues need cleanlab: pip install 'harness[labels]'") from None
    labels = np.asarray(labels, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    proba = proba / proba.sum(axis=1, keepdims=True)  # cleanlab checks rows sum to one
    present = np.bincount(labels, minlength=len(classes))
    if (present == 0).any() or len(labels) < 2 * len(classes):
        return []  # confident learning needs examples of every class
    flagged = set(find_label_issues(labels, proba, return_indices_ranked_by="self_confidence").tolist())
    quality = get_label_quality_scores(labels, proba, method="self_confidence")
    suggested = proba.argmax(axis=1)
    candidates = flagged | set(np.flatnonzero(np.asarray(wrong_share) > 0.5).tolist())
    ranked = sorted(candidates, key=lambda i: (quality[i], str(sample_ids[i])))
    return [
        {
            "sample_id": str(sample_ids[i]),
            "given": classes[labels[i]],
            "suggested": classes[suggested[i]],
            "quality": float(quality[i]),
            "confidence": float(proba[i, suggested[i]]),
            "wrong_share": float(wrong_share[i]),
            "flagged": i in flagged,
        }
        for i in ranked
    ]

"""Label issues of the test and validation sets, from every trained row's predictions.

The probabilities fed to confident learning (:mod:`harness.stats.label_issues`) are the
mean over every trained row (ensembles and TTA rows re-use the same models, so they are
left out) of its seed-averaged probabilities.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import HarnessError
from harness.leaderboard.ranking.row_samples import row_split_samples
from harness.stats.label_issues import find_issues

if TYPE_CHECKING:
    from harness.leaderboard.board import Leaderboard
    from harness.leaderboard.ranking.samples import PredictionStore
    from harness.store import Run

SPLITS = ("test", "val")


def pooled(leaderboard: Leaderboard, run: Run, store: PredictionStore, split: str):
    """``(reference samples, mean proba [N, K], wrong share [N], rows used)`` or None."""
    found = row_split_samples(leaderboard, run, store, split)
    trained = [r for r in found if leaderboard.details[r].kind == "model"] or list(found)
    if not trained:
        return None
    reference = found[trained[0]]
    used = [r for r in trained if found[r].fingerprint == reference.fingerprint and found[r].classes == reference.classes]
    means = np.stack([found[r].mean_proba() for r in used])  # [rows, N, K]
    wrong = (means.argmax(axis=2) != reference.labels[None]).mean(axis=0)
    return reference, means.mean(axis=0), wrong, used


def label_issue_table(leaderboard: Leaderboard, run: Run, store: PredictionStore) -> dict[str, Any]:
    """Per split the flagged samples, most likely mislabelled first."""
    out: dict[str, Any] = {"splits": {}, "note": None}
    for split in SPLITS:
        found = pooled(leaderboard, run, store, split)
        if found is None:
            continue
        reference, proba, wrong, used = found
        try:
            issues = find_issues(reference.sample_ids, reference.labels, proba, reference.classes, wrong)
        except HarnessError as exc:
            return {"splits": {}, "note": str(exc)}
        out["splits"][split] = {"issues": issues, "rows": used, "n": len(reference.labels)}
    return out

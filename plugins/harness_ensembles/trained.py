"""Ensembles whose members come from training itself: k-fold models and snapshots.

Both average their members' probabilities; what differs is where the members come from,
declared by :attr:`harness.Ensemble.source`: ``"folds"`` (the runner trains each matched
configuration once per fold of train + val) or ``"snapshots"`` (the training loop stores
predictions at the end of every cycle the schedule's ``cycle_end_epochs`` names).
"""

from __future__ import annotations

from harness_ensembles.voting import SoftVoting


class KFold(SoftVoting):
    """Average of the k fold models' test probabilities (out-of-fold predictions kept).

    Args:
        k: number of folds of train + val (2 to 50).
    """

    source = "folds"

    def __init__(self, k: int = 5):
        super().__init__()
        self.k = k


class Snapshot(SoftVoting):
    """Average of the snapshots a warm-restart schedule left at the end of each cycle."""

    source = "snapshots"

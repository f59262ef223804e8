"""Ensembles whose members come from training itself: k-fold models and snapshots.

Both average their members' probabilities; what differs is where the members come from,
which the engine reads from the factory's ``source`` attribute: ``"folds"`` (the runner
trains each matched configuration once per fold of train + val) or ``"snapshots"`` (the
training loop stores predictions at the end of every ``cosine_warm_restart`` cycle).
"""

from __future__ import annotations

from typing import Any

from harness_ensembles.voting import SoftVoting


def kfold(k: int = 5) -> SoftVoting:
    """Average of the k fold models' test probabilities (out-of-fold predictions kept)."""
    return SoftVoting()


kfold.source = "folds"  # type: ignore[attr-defined]


def snapshot() -> SoftVoting:
    """Average of the snapshots a warm-restart schedule left at the end of each cycle."""
    return SoftVoting()


snapshot.source = "snapshots"  # type: ignore[attr-defined]


def check_kfold(options: dict[str, Any]) -> list[tuple[str, str]]:
    problems = [(key, "unknown option of ensemble 'kfold' (allowed: k)") for key in options if key != "k"]
    k = options.get("k", 5)
    if not isinstance(k, int) or isinstance(k, bool) or not 2 <= k <= 50:
        problems.append(("k", f"must be an integer from 2 to 50, got {k!r}"))
    return problems


def check_snapshot(options: dict[str, Any]) -> list[tuple[str, str]]:
    return [(key, "ensemble 'snapshot' takes no options") for key in options]

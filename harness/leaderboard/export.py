"""The machine-readable leaderboard: ``results.json`` and ``results.csv``."""

from __future__ import annotations

import math
from typing import Any

from harness.leaderboard.board import Leaderboard


def _finite(value: Any) -> float | None:
    """A float for JSON, None for NaN (JSON has no NaN)."""
    value = float(value)
    return None if math.isnan(value) else value


def results_dict(leaderboard: Leaderboard) -> dict[str, Any]:
    """``{"experiment", "rank_by", "rows": [...], "failed": [...]}`` in rank order.

    Each row holds ``rank``, ``row``, ``n_seeds``, ``metrics`` (name to ``{"mean",
    "std"}``, null where undefined) and ``cells`` (its finished cell ids).
    """
    rows = []
    for _, line in leaderboard.rows.iterrows():
        metrics = {
            m: {"mean": _finite(line[f"{m}_mean"]), "std": _finite(line[f"{m}_std"])} for m in leaderboard.metrics
        }
        rows.append(
            {
                "rank": int(line["rank"]),
                "row": str(line["row"]),
                "n_seeds": int(line["n_seeds"]),
                "metrics": metrics,
                "cells": list(leaderboard.details[line["row"]].cells),
            }
        )
    return {
        "experiment": leaderboard.experiment,
        "rank_by": leaderboard.rank_by,
        "rows": rows,
        "failed": [dict(f) for f in leaderboard.failed],
    }


def results_csv(leaderboard: Leaderboard) -> str:
    """One line per row: ``rank,row,n_seeds,<metric>_mean,<metric>_std,...``.

    Floats are written with full precision; an undefined std is an empty field.
    """
    columns = ["rank", "row", "n_seeds"] + [f"{m}_{s}" for m in leaderboard.metrics for s in ("mean", "std")]
    return leaderboard.rows[columns].to_csv(index=False, lineterminator="\n")

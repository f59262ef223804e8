"""The decision tables joined to a ranked leaderboard: computed, drawn, ready to render."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.leaderboard.board import Leaderboard
    from harness.store import Run


def with_decisions(
    leaderboard: Leaderboard, run: Run, store: Any, config: dict[str, Any] | None, **overrides: Any
) -> tuple[Leaderboard, dict[str, str]]:
    """The leaderboard with ``decisions`` set, and the extra files they bring (``label_issues.csv``).

    Args:
        config: the decision keys of ``[experiment]`` (:class:`~harness.leaderboard.ranking.decisions.DecisionSettings`).
        overrides: settings that win over ``config`` (resamples, permutations, seed).
    """
    from harness.leaderboard.figures.decision_plots import decision_figures
    from harness.leaderboard.ranking.decisions import DecisionSettings, add_decisions

    settings = DecisionSettings.from_config({**(config or {}), **overrides})
    data = add_decisions(leaderboard, run, store, settings)
    figures, files = decision_figures(data, run) if data else ({}, {})
    return dataclasses.replace(leaderboard, decisions={**data, "figures": figures} if data else {}), files

"""The leaderboard as a plain-text table for the terminal."""

from __future__ import annotations

from tabulate import tabulate

from harness.leaderboard.board import Leaderboard
from harness.leaderboard.formatting import format_mean_std


def terminal_table(leaderboard: Leaderboard) -> str:
    """Ranked rows with the shown metrics as ``mean ± std``, then any failed cells.

    Args:
        leaderboard: from :func:`harness.leaderboard.build_leaderboard`.

    Returns:
        The table text, without a trailing newline.
    """
    headers = ["rank", "row", "seeds", *leaderboard.shown]
    body = [
        [int(line["rank"]), line["row"], int(line["n_seeds"])]
        + [format_mean_std(line[f"{m}_mean"], line[f"{m}_std"], m) for m in leaderboard.shown]
        for _, line in leaderboard.rows.iterrows()
    ]
    text = tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True) if body else "(no finished cells)"
    lines = [text]
    for failure in leaderboard.failed:
        lines.append(f"failed {failure['cell']}: {failure['reason']}")
    return "\n".join(lines)

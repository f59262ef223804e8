"""The leaderboard as a plain-text table for the terminal."""

from __future__ import annotations

from tabulate import tabulate

from harness.errors import short_reason
from harness.leaderboard.board import Leaderboard
from harness.leaderboard.pages.formatting import format_interval, format_mean_std, format_p
from harness.leaderboard.stamp import Unchanged


def _versus(leaderboard: Leaderboard, row: str) -> str:
    """``#1``, ``tied (p 0.41)``, ``worse (p 0.003)`` ... against the top row on ``rank_by``."""
    tests = leaderboard.paired.get(leaderboard.rank_by)
    if tests is None:
        return ""
    if row == leaderboard.top:
        return "#1"
    result = tests.get(row)
    return "" if result is None else f"{result.verdict} (p {format_p(result.p_holm)})"


def _chance(leaderboard: Leaderboard, row: str) -> str:
    """``above (p 0.002)`` or ``not above (p 0.41)``: the row against the chance rows on ``rank_by``."""
    from harness.leaderboard.ranking.chance import versus_chance

    found = versus_chance(leaderboard, row)
    if found is None:
        return ""
    return f"{'above' if found['above'] else 'not above'} (p {format_p(found['p_holm'])})"


def terminal_table(leaderboard: Leaderboard | Unchanged) -> str:
    """Ranked rows with the shown metrics as ``mean ± std``, then any failed cells.

    The ranking metric also shows its bootstrap interval, and, when rows were tested
    against the top row, a ``vs #1`` column gives the Holm-adjusted verdict; a ``vs chance``
    column says whether the row is significantly above both chance rows.

    Args:
        leaderboard: from :func:`harness.leaderboard.build_leaderboard`.

    Returns:
        The table text, without a trailing newline.
    """
    if isinstance(leaderboard, Unchanged):  # a leaderboard left as it was: its recorded table
        return leaderboard.text
    rank_by = leaderboard.rank_by
    has_ci = f"{rank_by}_low" in leaderboard.rows.columns
    tested = rank_by in leaderboard.paired
    headers = ["rank", "row", "seeds", *leaderboard.shown]
    if has_ci:
        headers.insert(4, "95% CI")
    if tested:
        headers.append("vs #1")
    if leaderboard.vs_chance:
        headers.append("vs chance")
    body = []
    for _, line in leaderboard.rows.iterrows():
        values = [format_mean_std(line[f"{m}_mean"], line[f"{m}_std"], m) for m in leaderboard.shown]
        if has_ci:
            values.insert(1, format_interval(line[f"{rank_by}_low"], line[f"{rank_by}_high"], rank_by))
        if tested:
            values.append(_versus(leaderboard, str(line["row"])))
        if leaderboard.vs_chance:
            values.append(_chance(leaderboard, str(line["row"])))
        body.append([int(line["rank"]), line["row"], int(line["n_seeds"]), *values])
    text = tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True) if body else "(no finished cells)"
    lines = [text]
    for failure in leaderboard.failed:
        lines.append(f"failed {failure['cell']}: {short_reason(str(failure['reason']))}")
    return "\n".join(lines)

"""``harness compare`` output: a terminal table, Markdown and a self-contained HTML page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from harness.leaderboard.pages.formatting import format_delta, format_interval, format_metric

if TYPE_CHECKING:
    from harness.compare.diff import Comparison, RowChange

HEADERS = ["row", "rank A → B", "metric", "A", "B", "Δ (B − A)", "95% CI", ""]


def rank_change(change: RowChange) -> str:
    """``3 → 1 (↑2)``, ``1 → 2 (↓1)`` or ``1 → 1 (=)``."""
    moved = change.rank_a - change.rank_b
    arrow = "=" if moved == 0 else (f"↑{moved}" if moved > 0 else f"↓{-moved}")
    return f"{change.rank_a} → {change.rank_b} ({arrow})"


def _lines(comparison: Comparison) -> list[list[str]]:
    lines = []
    for change in comparison.rows:
        for i, d in enumerate(change.deltas):
            lines.append(
                [
                    change.row if i == 0 else "",
                    rank_change(change) if i == 0 else "",
                    d.metric,
                    format_metric(d.a, d.metric),
                    format_metric(d.b, d.metric),
                    format_delta(d.delta, d.metric),
                    format_interval(d.low, d.high, d.metric),
                    d.verdict,
                ]
            )
    return lines


def _summary(comparison: Comparison) -> list[str]:
    s = comparison.settings
    out = [
        f"A: {comparison.a}",
        f"B: {comparison.b}",
        f"Δ = B − A; intervals: {round(s['level'] * 100)}% paired bootstrap over the shared test samples "
        f"({s['resamples']} class-stratified resamples, seed {s['seed']}); worse/better: the interval excludes 0, "
        "n.s.: it does not",
    ]
    out += [f"new in B: {row} (rank {rank})" for row, rank in comparison.new]
    out += [f"missing from B: {row} (rank {rank} in A)" for row, rank in comparison.missing]
    out += [f"note: {n}" for n in comparison.notes]
    return out


def compare_text(comparison: Comparison) -> str:
    """The comparison as a plain-text table with the summary lines below it."""
    table = tabulate(_lines(comparison), headers=HEADERS, tablefmt="simple", disable_numparse=True)
    return "\n".join([table if comparison.rows else "(no row is in both)", "", *_summary(comparison)])


def markdown_text(text: str) -> str:
    """``text`` safe inside a Markdown table cell: HTML escaped (GitHub renders raw HTML in
    Markdown), pipes and backslashes escaped, line breaks flattened."""
    import html

    flat = " ".join(str(text).splitlines())
    return html.escape(flat, quote=False).replace("\\", "\\\\").replace("|", "\\|")


def compare_markdown(comparison: Comparison) -> str:
    """The comparison as Markdown: a title, the summary and a pipe table."""
    escaped = [[markdown_text(cell) for cell in line] for line in _lines(comparison)]
    table = tabulate(escaped, headers=HEADERS, tablefmt="github", disable_numparse=True)
    summary = "\n".join(f"- {markdown_text(line)}" for line in _summary(comparison))
    body = table if comparison.rows else "_No row is in both._"
    return f"# Comparison\n\n{summary}\n\n{body}\n"


def _context(comparison: Comparison) -> dict[str, Any]:
    rows = []
    for change in comparison.rows:
        rows.append(
            {
                "row": change.row,
                "rank_a": change.rank_a,
                "rank_b": change.rank_b,
                "moved": change.rank_a - change.rank_b,
                "change": rank_change(change),
                "deltas": [vars(d) for d in change.deltas],
            }
        )
    return {
        "a": comparison.a,
        "b": comparison.b,
        "metrics": comparison.metrics,
        "rows": rows,
        "new": comparison.new,
        "missing": comparison.missing,
        "notes": comparison.notes,
        "settings": comparison.settings,
    }


def compare_html(comparison: Comparison) -> str:
    """The comparison as one self-contained page with a sortable table."""
    from harness.leaderboard.pages.render import make_environment

    return make_environment().get_template("compare.html.j2").render(**_context(comparison))

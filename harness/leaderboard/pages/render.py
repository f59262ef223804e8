"""The HTML pages: one jinja2 environment, values prepared beforehand.

``index.html`` (``leaderboard.html.j2``) holds the ranking and the board-wide tables;
every row has its own page ``rows/<row-slug>.html`` (:mod:`harness.leaderboard.pages.row_page`).
The templates only lay out what they are given; ranking and statistics happen in pandas
(``ranking/``) and number formatting in filters (``formatting``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

from harness.leaderboard.board import Leaderboard
from harness.leaderboard.figures.build import FigureRef
from harness.leaderboard.figures.wrong import row_slug
from harness.leaderboard.pages import row_extras, row_page
from harness.leaderboard.pages.formatting import (
    format_cost,
    format_count,
    format_delta,
    format_interval,
    format_mean_std,
    format_metric,
    format_p,
    format_param,
    format_seconds,
    format_sort_key,
)
from harness.leaderboard.ranking.chance import versus_chance
from harness.metrics import lower_is_better
from harness.store import Run

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
TEMPLATE = "leaderboard.html.j2"
ROWS_DIR = "rows"
COST_LABELS = {
    "params": "parameters",
    "gmacs": "GMACs / image",
    "test.latency_ms": "latency (ms / image)",
    "test.latency_iqr_ms": "latency spread (IQR, ms)",
    "test.latency_unstable": "latency unstable (share of seeds)",
    "test.images_per_second": "throughput (images / s)",
    "train_seconds": "training (s)",
    "test.infer_seconds": "test inference (s)",
}


def make_environment(jinja_hook: Callable[..., Any] | None = None) -> jinja2.Environment:
    """The autoescaping, strict environment, offered to ``jinja_hook(env=...)`` first.

    Args:
        jinja_hook: optional callable receiving the environment as ``env`` (the plugin
            hook ``harness_prepare_jinja2_environment``) to add filters or globals.

    Returns:
        The environment.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["metric"] = format_metric
    env.filters["mean_std"] = format_mean_std
    env.filters["count"] = format_count
    env.filters["interval"] = format_interval
    env.filters["delta"] = format_delta
    env.filters["pvalue"] = format_p
    env.filters["cost"] = format_cost
    env.filters["sortkey"] = format_sort_key
    env.filters["param"] = format_param
    env.filters["seconds"] = format_seconds
    env.globals["lower_is_better"] = lower_is_better
    if jinja_hook is not None:
        jinja_hook(env=env)
    return env


def _meta_items(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """``run.json`` as sorted ``(key, text)`` pairs; nested values as compact JSON."""

    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)

    return [(str(k), text(v)) for k, v in sorted(meta.items())]


def _value(line: Any, name: str) -> dict[str, Any]:
    """One metric of one row: mean, std and interval (NaN where missing)."""

    def get(suffix: str) -> float:
        return float(line.get(f"{name}_{suffix}", float("nan")))

    return {
        "name": name,
        "mean": get("mean"),
        "std": get("std"),
        "low": get("low"),
        "high": get("high"),
        "desc": not lower_is_better(name),
    }


def _versus(leaderboard: Leaderboard, row: str, metric: str) -> dict[str, Any] | None:
    """The row's paired test against the top row on ``metric``, or None if untested."""
    if row == leaderboard.top and metric in leaderboard.paired:
        return {"verdict": "top", "p_holm": float("nan"), "delta": 0.0, "method": "", "detail": "", "order": -1.0}
    result = leaderboard.paired.get(metric, {}).get(row)
    if result is None:
        return None
    return {
        "verdict": result.verdict,
        "p_holm": result.p_holm,
        "p": result.p,
        "delta": result.delta,
        "method": result.method,
        "detail": result.detail,
        "p_min": result.p_min,
        "order": result.p_holm,
    }


def row_links(leaderboard: Leaderboard, prefix: str = f"{ROWS_DIR}/") -> dict[str, str]:
    """Row key to the address of its page, ``prefix`` + ``<row-slug>.html``."""
    return {str(row): f"{prefix}{row_slug(str(row))}.html" for row in leaderboard.rows["row"]}


def _table(leaderboard: Leaderboard, links: dict[str, str]) -> list[dict[str, Any]]:
    """One entry per ranked row: what the ranking table and the row page's header show."""
    table = []
    for _, line in leaderboard.rows.iterrows():
        row = str(line["row"])
        detail = leaderboard.details[row]
        values = [_value(line, m) for m in leaderboard.shown]
        table.append(
            {
                "href": links[row],
                "rank": int(line["rank"]),
                "row": row,
                "model": str(line["model"]),
                "n_seeds": int(line["n_seeds"]),
                "pareto": bool(line.get("pareto", False)),
                "values": values,
                "key_value": values[0],  # rank_by comes first in ``shown``
                "calibration": [_value(line, m) for m in leaderboard.calibration],
                "efficiency": [_value(line, m) for m in leaderboard.efficiency],
                "quality": _value(line, leaderboard.pareto_value) if leaderboard.pareto_value else None,
                "versus": _versus(leaderboard, row, leaderboard.rank_by),
                "chance": versus_chance(leaderboard, row),
                "tests": [_versus(leaderboard, row, m) for m in leaderboard.paired],
                "kind": detail.kind,
                "tuned": detail.tuning is not None,
                "tuning": row_extras.tuning_context(detail),
                "ensemble_note": row_extras.ensemble_line(detail, links),
                "tta_note": row_extras.tta_line(detail, links),
            }
        )
    return table


def page_context(leaderboard: Leaderboard, board_figures: list[FigureRef] | None = None) -> dict[str, Any]:
    """Everything ``index.html`` shows, as plain values."""
    from harness.leaderboard.ranking.anomaly import category_table

    table = _table(leaderboard, row_links(leaderboard))
    return {
        "title": leaderboard.title,
        "description": leaderboard.description,
        "experiment": leaderboard.experiment,
        "rank_by": leaderboard.rank_by,
        "direction": "lower" if lower_is_better(leaderboard.rank_by) else "higher",
        "columns": list(leaderboard.shown),
        "calibration_columns": list(leaderboard.calibration),
        "efficiency_columns": [{"name": m, "label": COST_LABELS.get(m, m)} for m in leaderboard.efficiency],
        "quality": leaderboard.pareto_value,
        "tested": list(leaderboard.paired),
        "chance_tested": bool(leaderboard.vs_chance),
        "bootstrap": dict(leaderboard.bootstrap),
        "decisions": {k: v for k, v in leaderboard.decisions.items() if k != "figures"},
        "decision_figures": leaderboard.decisions.get("figures", {}),
        "categories": category_table(leaderboard.rows, leaderboard.rank_by),
        "table": table,
        "board_figures": list(board_figures or []),
        "notes": list(leaderboard.notes),
        "failed": list(leaderboard.failed),
        "incomplete": list(leaderboard.incomplete),
        "meta": _meta_items(leaderboard.meta),
    }


def render_pages(
    leaderboard: Leaderboard,
    figures: dict[str, list[FigureRef]],
    jinja_hook: Callable[..., Any] | None = None,
    *,
    galleries: dict[str, dict[str, Any]] | None = None,
    board_figures: list[FigureRef] | None = None,
    extra_figures: dict[str, dict[str, list[FigureRef]]] | None = None,
    run: Run | None = None,
) -> dict[str, str]:
    """``index.html`` and every ``rows/<row-slug>.html``: path relative to the folder to text.

    Args:
        leaderboard: the ranked leaderboard.
        figures: row key to its figures (:func:`harness.leaderboard.figures.build.all_figures`).
        jinja_hook: see :func:`make_environment`.
        galleries: row key to its wrong-prediction gallery.
        board_figures: figures of the whole board (the Pareto plot), shown on the index.
        extra_figures: row key to its ``"tuning"`` and ``"ensemble"`` figures.
        run: the run store, for row-page sections that read it.
    """
    env = make_environment(jinja_hook)
    index = page_context(leaderboard, board_figures)
    pages = {"index.html": env.get_template(TEMPLATE).render(**index)}
    table = _table(leaderboard, row_links(leaderboard, ""))  # row pages link each other within rows/
    for position, entry in enumerate(table):
        inputs = row_page.RowInputs(
            leaderboard=leaderboard,
            detail=leaderboard.details[entry["row"]],
            entry=entry,
            figures=[*figures.get(entry["row"], []), *(f for fs in (extra_figures or {}).get(entry["row"], {}).values() for f in fs)],
            gallery=(galleries or {}).get(entry["row"]),
            links={e["row"]: e["href"] for e in table},
            run=run,
        )
        neighbours = {"previous": table[position - 1] if position else None,
                      "next": table[position + 1] if position + 1 < len(table) else None}
        context = row_page.page_context(inputs, index, neighbours)
        pages[f"{ROWS_DIR}/{entry['href']}"] = env.get_template(row_page.TEMPLATE).render(**context)
    return pages

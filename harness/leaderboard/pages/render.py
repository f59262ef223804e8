"""The HTML page: one jinja2 environment, one template, values prepared beforehand.

The template only lays out what it is given; ranking and statistics happen in pandas
(``aggregate``) and number formatting in filters (``formatting``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

from harness.leaderboard.board import Leaderboard
from harness.leaderboard.figures.build import FigureRef
from harness.leaderboard.pages import row_extras
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
from harness.metrics import lower_is_better

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
TEMPLATE = "leaderboard.html.j2"
COST_LABELS = {
    "params": "parameters",
    "gmacs": "GMACs / image",
    "test.latency_ms": "latency (ms / image)",
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
        "order": result.p_holm,
    }


def _anchors(leaderboard: Leaderboard) -> dict[str, str]:
    """Row key to the id of its section (``row-<position>``)."""
    return {str(row): f"row-{i}" for i, row in enumerate(leaderboard.rows["row"], start=1)}


def _table(leaderboard: Leaderboard) -> list[dict[str, Any]]:
    table = []
    anchors = _anchors(leaderboard)
    for _, line in leaderboard.rows.iterrows():
        row = str(line["row"])
        detail = leaderboard.details[row]
        table.append(
            {
                "anchor": anchors[row],
                "rank": int(line["rank"]),
                "row": row,
                "model": str(line["model"]),
                "n_seeds": int(line["n_seeds"]),
                "pareto": bool(line.get("pareto", False)),
                "values": [_value(line, m) for m in leaderboard.shown],
                "calibration": [_value(line, m) for m in leaderboard.calibration],
                "efficiency": [_value(line, m) for m in leaderboard.efficiency],
                "quality": _value(line, leaderboard.pareto_value) if leaderboard.pareto_value else None,
                "versus": _versus(leaderboard, row, leaderboard.rank_by),
                "tests": [_versus(leaderboard, row, m) for m in leaderboard.paired],
                "kind": detail.kind,
                "tuned": detail.tuning is not None,
                "tuning": row_extras.tuning_context(detail),
                "ensemble_note": row_extras.ensemble_line(detail, anchors),
                "tta_note": row_extras.tta_line(detail, anchors),
            }
        )
    return table


def _per_class(leaderboard: Leaderboard, row: str) -> list[dict[str, Any]]:
    detail = leaderboard.details[row]
    intervals = leaderboard.intervals.get(row, {})
    out = []
    for name, values in detail.per_class.to_dict("index").items():
        entry: dict[str, Any] = {"name": name, "support": values["support"]}
        for key in ("precision", "recall", "f1"):
            found = intervals.get(f"test.{key}_{name}")
            entry[key] = {
                "mean": values[key],
                "low": found.low if found else None,
                "high": found.high if found else None,
            }
        out.append(entry)
    return out


def _test_first(item: tuple[str, str]) -> tuple[bool, str]:
    return (item[0] != "test", item[0])


def _sections(
    leaderboard: Leaderboard,
    figures: dict[str, list[FigureRef]],
    galleries: dict[str, dict[str, Any]],
    extra_figures: dict[str, dict[str, list[FigureRef]]],
) -> list[dict[str, Any]]:
    sections = []
    empty = {"total": 0, "items": [], "unseen": []}
    anchors = _anchors(leaderboard)
    for entry in _table(leaderboard):
        detail = leaderboard.details[entry["row"]]
        extra = extra_figures.get(entry["row"], {})
        cells = [{"id": c, "seed": "–" if s is None else str(s)} for c, s in zip(detail.cells, detail.seeds)]
        sections.append(
            {
                **entry,
                "cells": cells,
                "per_class": _per_class(leaderboard, entry["row"]),
                "figures": figures.get(entry["row"], []),
                "ensemble": row_extras.ensemble_context(detail, anchors),
                "tta": row_extras.tta_context(detail, anchors),
                "tuning_figures": extra.get("tuning", []),
                "ensemble_figures": extra.get("ensemble", []),
                "gallery": galleries.get(entry["row"], empty),
                "wrong_files": [
                    (k, v) for k, v in sorted(leaderboard.wrong_files.get(entry["row"], {}).items(), key=_test_first)
                ],
            }
        )
    return sections


def page_context(
    leaderboard: Leaderboard,
    figures: dict[str, list[FigureRef]],
    galleries: dict[str, dict[str, Any]] | None = None,
    board_figures: list[FigureRef] | None = None,
    extra_figures: dict[str, dict[str, list[FigureRef]]] | None = None,
) -> dict[str, Any]:
    """Everything the template shows, as plain values.

    ``extra_figures`` maps a row to its ``"tuning"`` and ``"ensemble"`` figures.
    """
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
        "bootstrap": dict(leaderboard.bootstrap),
        "table": _table(leaderboard),
        "sections": _sections(leaderboard, figures, galleries or {}, extra_figures or {}),
        "board_figures": list(board_figures or []),
        "notes": list(leaderboard.notes),
        "failed": list(leaderboard.failed),
        "incomplete": list(leaderboard.incomplete),
        "meta": _meta_items(leaderboard.meta),
    }


def render_html(
    leaderboard: Leaderboard,
    figures: dict[str, list[FigureRef]],
    jinja_hook: Callable[..., Any] | None = None,
    *,
    galleries: dict[str, dict[str, Any]] | None = None,
    board_figures: list[FigureRef] | None = None,
    extra_figures: dict[str, dict[str, list[FigureRef]]] | None = None,
) -> str:
    """The self-contained ``index.html`` text."""
    env = make_environment(jinja_hook)
    context = page_context(leaderboard, figures, galleries, board_figures, extra_figures)
    return env.get_template(TEMPLATE).render(**context)

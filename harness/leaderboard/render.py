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
from harness.leaderboard.figures import FigureRef
from harness.leaderboard.formatting import format_count, format_mean_std, format_metric
from harness.metrics import lower_is_better

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE = "leaderboard.html.j2"


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
    if jinja_hook is not None:
        jinja_hook(env=env)
    return env


def _meta_items(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """``run.json`` as sorted ``(key, text)`` pairs; nested values as compact JSON."""

    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)

    return [(str(k), text(v)) for k, v in sorted(meta.items())]


def _table(leaderboard: Leaderboard) -> list[dict[str, Any]]:
    return [
        {
            "anchor": f"row-{i}",
            "rank": int(line["rank"]),
            "row": str(line["row"]),
            "model": str(line["model"]),
            "n_seeds": int(line["n_seeds"]),
            "values": [{"name": m, "mean": line[f"{m}_mean"], "std": line[f"{m}_std"]} for m in leaderboard.shown],
        }
        for i, (_, line) in enumerate(leaderboard.rows.iterrows(), start=1)
    ]


def _sections(leaderboard: Leaderboard, figures: dict[str, list[FigureRef]]) -> list[dict[str, Any]]:
    sections = []
    for entry in _table(leaderboard):
        detail = leaderboard.details[entry["row"]]
        per_class = [{"name": name, **values} for name, values in detail.per_class.to_dict("index").items()]
        cells = [{"id": c, "seed": "–" if s is None else str(s)} for c, s in zip(detail.cells, detail.seeds)]
        sections.append({**entry, "cells": cells, "per_class": per_class, "figures": figures.get(entry["row"], [])})
    return sections


def page_context(leaderboard: Leaderboard, figures: dict[str, list[FigureRef]]) -> dict[str, Any]:
    """Everything the template shows, as plain values."""
    return {
        "title": leaderboard.title,
        "description": leaderboard.description,
        "experiment": leaderboard.experiment,
        "rank_by": leaderboard.rank_by,
        "direction": "lower" if lower_is_better(leaderboard.rank_by) else "higher",
        "columns": list(leaderboard.shown),
        "table": _table(leaderboard),
        "sections": _sections(leaderboard, figures),
        "failed": list(leaderboard.failed),
        "incomplete": list(leaderboard.incomplete),
        "meta": _meta_items(leaderboard.meta),
    }


def render_html(
    leaderboard: Leaderboard,
    figures: dict[str, list[FigureRef]],
    jinja_hook: Callable[..., Any] | None = None,
) -> str:
    """The self-contained ``index.html`` text."""
    env = make_environment(jinja_hook)
    return env.get_template(TEMPLATE).render(**page_context(leaderboard, figures))

"""Figures of a tuned row: the optimisation history and the parameter importances.

Both take the per-seed summaries of :func:`harness.leaderboard.ranking.tuning.row_tuning`; each
seed has its own colour, the same in both figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from harness.leaderboard.figures.plots import _new_figure, png_uri, short

MARKERS = {"complete": ("o", "complete"), "pruned": ("x", "pruned"), "fail": ("v", "failed")}


def seed_label(study: dict[str, Any]) -> str:
    """``seed 0``, or the cell id when the cell has no seed."""
    return study["cell"] if study.get("seed") is None else f"seed {study['seed']}"


def best_so_far(numbers: Sequence[int], values: Sequence[float], maximize: bool) -> tuple[list[int], list[float]]:
    """The running best of the completed trials, in trial order (for a step line)."""
    order = np.argsort(np.asarray(numbers), kind="stable")
    ys = np.asarray(values, dtype=np.float64)[order]
    running = np.maximum.accumulate(ys) if maximize else np.minimum.accumulate(ys)
    return [int(numbers[i]) for i in order], [float(v) for v in running]


def _draw_seed(ax: Any, study: dict[str, Any], colour: str, maximize: bool) -> None:
    trials = study["trials"]
    for state, (marker, _) in MARKERS.items():
        shown = [t for t in trials if t["state"] == state and t["value"] is not None]
        if shown:
            # filled dots for complete trials; crosses (line markers) and hollow triangles for the others
            style = (
                {"color": colour}
                if marker == "x"
                else {"facecolors": colour if state == "complete" else "none", "edgecolors": colour}
            )
            ax.scatter(
                [t["number"] for t in shown],
                [t["value"] for t in shown],
                marker=marker,
                s=30,
                linewidths=1.0,
                zorder=3,
                **style,
            )
    missing = [t["number"] for t in trials if t["state"] != "complete" and t["value"] is None]
    if missing:  # failed (or valueless pruned) trials: a mark on the bottom edge
        ax.scatter(
            missing,
            [0.03] * len(missing),
            marker="v",
            s=34,
            edgecolors=colour,
            facecolors="none",
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            zorder=3,
        )
    done = [t for t in trials if t["state"] == "complete" and t["value"] is not None]
    if done:
        xs, ys = best_so_far([t["number"] for t in done], [t["value"] for t in done], maximize)
        last = max(t["number"] for t in trials)
        ax.step([*xs, last], [*ys, ys[-1]], where="post", color=colour, linewidth=1.4, zorder=2)


def _legend_handles(studies: Sequence[dict[str, Any]]) -> list[Line2D]:
    """One line per seed (its best so far), then the marker of each trial state, in grey."""
    lines = [
        Line2D([], [], color=f"C{i % 10}", linewidth=1.4, label=f"{seed_label(s)}: best so far")
        for i, s in enumerate(studies)
    ]
    markers = [
        Line2D(
            [],
            [],
            linestyle="",
            marker=m,
            color="0.35",
            markerfacecolor="0.35" if k == "complete" else "none",
            label=text,
        )
        for k, (m, text) in MARKERS.items()
    ]
    return lines + markers


def history_plot(studies: Sequence[dict[str, Any]], metric: str, direction: str) -> str | None:
    """Trial value against trial number, with the best value so far, one colour per seed.

    Args:
        studies: per seed: ``seed``, ``cell`` and ``trials`` (``number``, ``state``,
            ``value``).
        metric: the optimised metric (axis label).
        direction: ``"maximize"`` or ``"minimize"``.

    Returns:
        A PNG data URI, or None without any trial.
    """
    if not any(s["trials"] for s in studies):
        return None
    fig = _new_figure(6.0, 3.2)
    ax = fig.add_subplot()
    maximize = direction.startswith("max")
    for i, study in enumerate(studies):
        _draw_seed(ax, study, f"C{i % 10}", maximize)
    ax.set_xlabel("trial number", fontsize=8)
    ax.set_ylabel(metric, fontsize=8)
    ax.set_title(f"optimisation history ({'higher' if maximize else 'lower'} is better)", fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=7.5)
    handles = _legend_handles(studies)
    ax.legend(handles=handles, fontsize=7.5, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return png_uri(fig)


def importance_plot(studies: Sequence[dict[str, Any]]) -> str | None:
    """Horizontal bars of each parameter's importance, one bar per seed that has them.

    Args:
        studies: per seed: ``seed``, ``cell`` and ``importances`` (parameter to value).

    Returns:
        A PNG data URI, or None when no seed has importances.
    """
    found = [s for s in studies if s["importances"]]
    if not found:
        return None
    params = sorted(
        {p for s in found for p in s["importances"]},
        key=lambda p: (-np.mean([s["importances"].get(p, 0.0) for s in found]), p),
    )
    height = 0.8 / len(found)
    fig = _new_figure(5.0, 1.2 + 0.36 * len(params) * max(1, len(found) * 0.6))
    ax = fig.add_subplot()
    for i, study in enumerate(studies):
        if not study["importances"]:
            continue
        k = found.index(study)
        ys = np.arange(len(params)) - 0.4 + height * (k + 0.5)
        ax.barh(
            ys,
            [study["importances"].get(p, 0.0) for p in params],
            height=height,
            color=f"C{i % 10}",
            label=seed_label(study),
        )
    ax.set_yticks(range(len(params)), [short(p) for p in params], fontsize=7.5)
    ax.invert_yaxis()  # most important on top
    ax.set_xlabel("importance (Optuna; normalised to sum to 1 per seed)", fontsize=8)
    ax.set_xlim(0, 1)
    ax.tick_params(axis="x", labelsize=7.5)
    ax.legend(fontsize=7.5, frameon=False, loc="lower right")
    fig.tight_layout()
    return png_uri(fig)

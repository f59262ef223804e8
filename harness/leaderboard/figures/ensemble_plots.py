"""Figures of an ensemble row: members' pairwise disagreement and leave-one-out contributions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.leaderboard.figures.plots import _new_figure, png_uri, short


def disagreement_plot(matrix: Sequence[Sequence[float | None]], labels: Sequence[str]) -> str:
    """An ``[M, M]`` heatmap of the share of samples two members predict differently.

    Args:
        matrix: pairwise shares (None where unknown, drawn blank).
        labels: the ``M`` member names.

    Returns:
        A PNG data URI.
    """
    values = np.array([[np.nan if v is None else float(v) for v in line] for line in matrix], dtype=np.float64)
    m = len(labels)
    off = values[~np.eye(m, dtype=bool)] if m > 1 else values.ravel()
    top = float(np.nanmax(off)) if np.isfinite(off).any() and np.nanmax(off) > 0 else 1.0
    side = 2.6 + 0.62 * m
    fig = _new_figure(side + 1.0, side)
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(values), cmap="Oranges", vmin=0.0, vmax=top)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=8, color="white" if v > 0.6 * top else "black")
    names = [short(str(label)) for label in labels]
    ax.set_xticks(range(m), names, rotation=35, ha="right", fontsize=7.5)
    ax.set_yticks(range(m), names, fontsize=7.5)
    ax.set_title("pairwise disagreement", fontsize=9)
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.ax.tick_params(labelsize=7.5)
    fig.tight_layout()
    return png_uri(fig)


def contribution_plot(labels: Sequence[str], contributions: dict[str, Sequence[float | None]]) -> str | None:
    """Horizontal bars: how much each member adds to the ensemble, per score.

    Args:
        labels: the ``M`` member names.
        contributions: score name to ``M`` values (the ensemble's score minus its score
            re-fitted without the member; positive helps), None where unknown.

    Returns:
        A PNG data URI, or None when no value is known.
    """
    series = {k: [np.nan if v is None else float(v) for v in vs] for k, vs in contributions.items()}
    series = {k: vs for k, vs in series.items() if np.isfinite(vs).any()}
    if not series or not labels:
        return None
    m, n = len(labels), len(series)
    height = 0.8 / n
    fig = _new_figure(5.6, 1.3 + 0.36 * m * max(1, n * 0.7))
    ax = fig.add_subplot()
    for k, (name, values) in enumerate(series.items()):
        ys = np.arange(m) - 0.4 + height * (k + 0.5)
        ax.barh(ys, np.nan_to_num(values), height=height, color=f"C{k}", label=name)
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.set_yticks(range(m), [short(str(label)) for label in labels], fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlabel("score with the member minus score without it (> 0: it helps)", fontsize=8)
    ax.set_title("leave-one-out contribution", fontsize=9)
    ax.tick_params(axis="x", labelsize=7.5)
    ax.legend(fontsize=7.5, frameon=False, loc="best")
    fig.tight_layout()
    return png_uri(fig)

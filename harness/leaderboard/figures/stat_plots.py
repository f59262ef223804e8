"""Figures of the statistics: reliability diagrams and the cost/quality Pareto plot."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.leaderboard.figures.plots import _new_figure, png_uri
from harness.stats.calibration import ReliabilityCurve


def reliability_plot(curve: ReliabilityCurve, n_bins: int, title: str) -> str:
    """Observed frequency against predicted probability, with the bin counts below.

    Args:
        curve: the non-empty bins (:func:`harness.stats.calibration.reliability_curve`).
        n_bins: the number of equal-width bins, for the histogram's bar width.
        title: what the curve is of.

    Returns:
        A PNG data URI.
    """
    fig = _new_figure(3.4, 3.8)
    top = fig.add_axes((0.17, 0.38, 0.78, 0.52))
    bottom = fig.add_axes((0.17, 0.12, 0.78, 0.16), sharex=top)
    top.plot([0, 1], [0, 1], ":", color="0.5", linewidth=1, label="perfectly calibrated")
    top.plot(curve.prob_pred, curve.prob_true, "o-", color="C0", markersize=3, linewidth=1.2, label=curve.kind)
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("observed frequency", fontsize=7.5)
    top.set_title(title, fontsize=7.5)
    top.legend(fontsize=7.5, frameon=False, loc="upper left")
    top.tick_params(labelsize=7.5, labelbottom=False)
    bottom.bar(curve.prob_pred, curve.counts, width=0.8 / n_bins, color="C0", alpha=0.6)
    bottom.set_xlabel(f"mean predicted probability ({curve.kind})", fontsize=7.5)
    bottom.set_ylabel("samples", fontsize=7.5)
    bottom.tick_params(labelsize=7.5)
    return png_uri(fig)


def pareto_plot(
    costs: np.ndarray,
    values: np.ndarray,
    ranks: Sequence[int],
    front: np.ndarray,
    cost_name: str,
    value_name: str,
) -> str:
    """Quality against cost, one point per row labelled with its rank, the front joined.

    Args:
        costs: ``[n]`` costs (e.g. latency), lower is better.
        values: ``[n]`` quality values.
        ranks: ``n`` leaderboard ranks, the point labels.
        front: ``[n]`` booleans, the rows on the Pareto front.
        cost_name: x axis label.
        value_name: y axis label.

    Returns:
        A PNG data URI.
    """
    fig = _new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    shown = ~(np.isnan(costs) | np.isnan(values))
    off = shown & ~front
    ax.scatter(costs[off], values[off], s=22, color="0.6", label="dominated", zorder=2)
    order = np.flatnonzero(front)[np.argsort(costs[front], kind="stable")]
    ax.step(costs[order], values[order], where="post", color="C3", linewidth=1, zorder=1)
    ax.scatter(costs[front], values[front], s=30, color="C3", label="Pareto front", zorder=3)
    for x, y, rank in zip(costs[shown], values[shown], np.asarray(ranks)[shown]):
        ax.annotate(f"#{rank}", (x, y), textcoords="offset points", xytext=(4, 3), fontsize=8)
    positive = costs[shown][costs[shown] > 0]
    if positive.size > 1 and positive.max() / positive.min() > 20:  # wide cost ranges read better in log scale
        ax.set_xscale("log")
    ax.set_xlabel(cost_name, fontsize=8)
    ax.set_ylabel(value_name, fontsize=8)
    ax.tick_params(labelsize=7.5)
    ax.legend(fontsize=7.5, frameon=False)
    ax.grid(alpha=0.3, linewidth=0.5)
    fig.tight_layout()
    return png_uri(fig)

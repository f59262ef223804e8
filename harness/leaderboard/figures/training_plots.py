"""Figures of the training analyses (:mod:`harness.leaderboard.ranking.training`).

``train_val_plot``: loss, accuracy and macro F1 of the training subset (solid) and of
validation (dashed) per epoch, one colour per seed, a star on each seed's selected
epoch, and a fourth panel with the generalisation gap (mean over seeds; > 0: better on
the training subset). ``class_score_bars``: test precision, recall and F1 per class with
their bootstrap intervals. ``class_split_bars``: accuracy and loss per class on the
training subset and on validation at the selected epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from harness.leaderboard.figures.curves import series
from harness.leaderboard.figures.plots import LABEL, SMALL, TITLE, _new_figure, png_uri, short

TITLES = {"loss": "loss", "accuracy": "accuracy", "f1_macro": "macro F1"}


def _style(ax: Any, title: str, xlabel: str | None = "epoch") -> None:
    ax.set_title(title, fontsize=TITLE)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=LABEL)
    ax.tick_params(labelsize=SMALL)


def _mean_by_epoch(values: Sequence[tuple[list[float], list[float]]]) -> tuple[list[float], list[float]]:
    """Per epoch, the mean over the seeds that recorded it."""
    found: dict[float, list[float]] = {}
    for xs, ys in values:
        for x, y in zip(xs, ys):
            if not math.isnan(y):
                found.setdefault(x, []).append(y)
    epochs = sorted(found)
    return epochs, [sum(found[x]) / len(found[x]) for x in epochs]


def train_val_plot(histories: Sequence[tuple[str, list[dict[str, Any]], int]], metrics: Sequence[str],
                   gaps: Sequence[tuple[str, list[float], list[float]]] | None = None) -> str | None:
    """Train-subset and validation curves per metric, then the gap.

    Args:
        histories: ``(label, history, selected epoch)`` per seed.
        metrics: metric names without prefix (``loss``, ``accuracy``, ``f1_macro``).
        gaps: ``(metric, epochs, gap per epoch)`` per seed and metric (see
            :func:`harness.leaderboard.ranking.training.gap`).

    Returns:
        A PNG data URI, or None when no history holds a train-subset metric.
    """
    drawn = [m for m in metrics if any(series(h, f"train_eval.{m}")[0] for _, h, _ in histories)]
    if not drawn:
        return None
    panels = len(drawn) + (1 if gaps else 0)
    fig = _new_figure(3.0 * panels, 2.8)
    for p, metric in enumerate(drawn, start=1):
        ax = fig.add_subplot(1, panels, p)
        for i, (label, history, chosen) in enumerate(histories):
            colour = f"C{i % 10}"
            for split, style, name in (("train_eval", "-", "train subset"), ("val", "--", "validation")):
                xs, ys = series(history, f"{split}.{metric}")
                if xs:
                    ax.plot(xs, ys, style, color=colour, linewidth=1.3, marker=".", markersize=4, label=f"{name}, {label}")
            xs, ys = series(history, f"val.{metric}")
            if chosen in xs:
                ax.plot([chosen], [ys[xs.index(chosen)]], "*", color=colour, markersize=9, markeredgecolor="0.2")
        _style(ax, TITLES.get(metric, metric))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if p == 1:
            ax.legend(fontsize=SMALL, frameon=False)
    if gaps:
        ax = fig.add_subplot(1, panels, panels)
        for k, metric in enumerate(drawn):
            xs, ys = _mean_by_epoch([(x, y) for m, x, y in gaps if m == metric])
            if xs:
                ax.plot(xs, ys, "-", color=f"C{k}", linewidth=1.4, marker=".", markersize=4, label=TITLES.get(metric, metric))
        ax.axhline(0.0, color="0.35", linewidth=0.8)
        _style(ax, "generalisation gap (> 0: over-fit)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=SMALL, frameon=False)
    fig.tight_layout()
    return png_uri(fig)


def class_score_bars(classes: Sequence[str], scores: dict[str, Sequence[tuple[float, float, float]]]) -> str | None:
    """Grouped bars per class, one bar per score, with interval whiskers.

    Args:
        classes: the ``K`` class names.
        scores: score name to ``K`` ``(mean, low, high)`` (NaN bounds: no whisker).

    Returns:
        A PNG data URI, or None when no mean is finite.
    """
    if not classes or not any(math.isfinite(v[0]) for vs in scores.values() for v in vs):
        return None
    k, n = len(classes), len(scores)
    width = 0.8 / n
    fig = _new_figure(max(5.0, 1.2 + 0.75 * k * max(1.0, n / 3)), 3.0)
    ax = fig.add_subplot()
    for j, (name, values) in enumerate(scores.items()):
        xs = np.arange(k) - 0.4 + width * (j + 0.5)
        means = np.array([v[0] for v in values], dtype=np.float64)
        low = np.array([v[1] for v in values], dtype=np.float64)
        high = np.array([v[2] for v in values], dtype=np.float64)
        err = np.vstack([np.where(np.isfinite(low), means - low, 0.0), np.where(np.isfinite(high), high - means, 0.0)])
        ax.bar(xs, np.nan_to_num(means), width=width, color=f"C{j}", label=name,
               yerr=np.clip(np.nan_to_num(err), 0.0, None), error_kw={"elinewidth": 0.9, "capsize": 2, "ecolor": "0.2"})
    ax.set_xticks(range(k), [short(str(c), 18) for c in classes], fontsize=SMALL)
    ax.set_ylim(0.0, 1.22)  # room for the legend above the bars
    ax.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("test (mean over seeds)", fontsize=LABEL)
    _style(ax, "test precision, recall, F1 per class", None)
    ax.legend(fontsize=SMALL, frameon=False, ncol=n, loc="upper center")
    fig.tight_layout()
    return png_uri(fig)


def class_split_bars(classes: Sequence[str], values: dict[str, dict[str, Sequence[float]]]) -> str | None:
    """Per class, the training subset beside validation, one panel per metric.

    Args:
        classes: the ``K`` class names.
        values: metric (``accuracy``, ``loss``) to ``{"train_eval": [K], "val": [K]}``.

    Returns:
        A PNG data URI, or None when nothing is finite.
    """
    metrics = [m for m, by in values.items() if any(math.isfinite(v) for vs in by.values() for v in vs)]
    if not classes or not metrics:
        return None
    k = len(classes)
    fig = _new_figure(max(3.2, 1.0 + 0.55 * k) * len(metrics), 2.9)
    for p, metric in enumerate(metrics, start=1):
        ax = fig.add_subplot(1, len(metrics), p)
        for j, (split, label) in enumerate((("train_eval", "train subset"), ("val", "validation"))):
            ys = np.nan_to_num(np.asarray(values[metric].get(split, [math.nan] * k), dtype=np.float64))
            ax.bar(np.arange(k) - 0.2 + 0.4 * j, ys, width=0.4, color=f"C{j}", label=label,
                   hatch="" if j == 0 else "//", edgecolor="white" if j == 0 else "0.3", linewidth=0.5)
        ax.set_xticks(range(k), [short(str(c), 18) for c in classes], fontsize=SMALL)
        top = 1.0 if metric != "loss" else max([float(np.nanmax(v)) for v in values[metric].values() if np.isfinite(v).any()])
        ax.set_ylim(0.0, 1.25 * top)  # room for the legend above the bars
        if metric != "loss":
            ax.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
        _style(ax, f"{metric} per class at the selected epoch", None)
        ax.legend(fontsize=SMALL, frameon=False, ncol=2, loc="upper center")
    fig.tight_layout()
    return png_uri(fig)

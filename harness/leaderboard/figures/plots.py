"""Small matplotlib figures, returned as ``data:image/png;base64`` URIs.

Figures are built with ``matplotlib.figure.Figure`` and the Agg renderer directly, so
no global pyplot state or display backend is involved, and the PNG carries no software
tag: the same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 72
MAX_LABEL = 30


def short(label: str, limit: int = MAX_LABEL) -> str:
    """A tick label that fits: the middle of a long name becomes an ellipsis.

    The end is kept because that is where names tend to differ (``... (seed 1)``,
    ``train.optimizer.lr``).
    """
    if len(label) <= limit:
        return label
    head = (limit - 1) // 2
    return label[:head] + "…" + label[-(limit - 1 - head) :]


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def png_uri(fig: Figure) -> str:
    """Render ``fig`` to a PNG data URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def confusion_plot(cm: np.ndarray, classes: Sequence[str]) -> str:
    """Counts per true/predicted class, shaded by the fraction of each true class.

    Args:
        cm: ``[K, K]`` counts, rows true classes.
        classes: ``K`` names.

    Returns:
        A PNG data URI.
    """
    k = len(classes)
    side = 1.4 + 0.42 * k
    fig = _new_figure(side + 0.4, side)
    ax = fig.add_subplot()
    totals = cm.sum(axis=1, keepdims=True)
    shares = np.divide(cm, totals, out=np.zeros(cm.shape, dtype=np.float64), where=totals > 0)
    ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for (i, j), count in np.ndenumerate(cm):
        ax.text(
            j,
            i,
            str(int(count)),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if shares[i, j] > 0.6 else "black",
        )
    ax.set_xticks(range(k), [str(c) for c in classes], rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(k), [str(c) for c in classes], fontsize=7)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("true", fontsize=8)
    fig.tight_layout()
    return png_uri(fig)


def _series(history: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, entry in enumerate(history):
        value = entry.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            xs.append(float(entry.get("epoch", i + 1)))
            ys.append(float(value))
    return xs, ys


def curves_plot(histories: Sequence[tuple[str, list[dict[str, Any]]]], select: str | None) -> str | None:
    """Training curves of a row's seeds: losses on the left, ``select`` on the right.

    Args:
        histories: ``(label, history)`` per cell; a history is one dict per epoch.
        select: the checkpoint-selection metric to plot, if known.

    Returns:
        A PNG data URI, or None when no history holds a loss or ``select``.
    """
    panels = [("loss", ("train.loss", "val.loss")), (select or "", (select,) if select else ())]
    panels = [(title, keys) for title, keys in panels if any(_series(h, k)[0] for _, h in histories for k in keys)]
    if not panels:
        return None
    fig = _new_figure(3.0 * len(panels), 2.2)
    colours = [f"C{i % 10}" for i in range(len(histories))]
    for p, (title, keys) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), p)
        for colour, (label, history) in zip(colours, histories):
            for key in keys:
                xs, ys = _series(history, key)
                style = "--" if key.startswith("val.") and title == "loss" else "-"
                ax.plot(
                    xs, ys, style, color=colour, linewidth=1.2, marker=".", markersize=3, label=f"{key} {label}".strip()
                )
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=5, frameon=False)
    fig.tight_layout()
    return png_uri(fig)


def _unit(values: np.ndarray) -> np.ndarray:
    """Min-max normalise one map to [0, 1] (a flat map becomes zeros)."""
    values = values.astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)


def overlay_plot(
    images: np.ndarray,
    captions: Sequence[str],
    maps: dict[str, np.ndarray],
    masks: np.ndarray | None,
) -> str:
    """A grid: one sample per line; thumbnail, each map over it, then the mask.

    Args:
        images: ``[S, h, w, C]`` uint8 thumbnails (C = 1 or 3).
        captions: ``S`` labels shown beside the thumbnails.
        maps: name to ``[S, h', w']`` maps, stretched over the thumbnail.
        masks: ``[S, h', w']`` ground-truth masks, or None.

    Returns:
        A PNG data URI.
    """
    columns = ["image", *sorted(maps), *(["mask"] if masks is not None else [])]
    n = len(images)
    fig = _new_figure(1.05 * len(columns), 1.05 * n + 0.2)
    for i in range(n):
        image = images[i][..., 0] if images.shape[-1] == 1 else images[i]
        h, w = image.shape[:2]
        extent = (-0.5, w - 0.5, h - 0.5, -0.5)  # stretch any map size over the image
        for j, name in enumerate(columns):
            ax = fig.add_subplot(n, len(columns), i * len(columns) + j + 1)
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
            if name in maps:
                ax.imshow(_unit(maps[name][i]), cmap="jet", alpha=0.45, extent=extent, vmin=0, vmax=1)
            elif name == "mask" and masks is not None:
                ax.imshow(np.ma.masked_equal(masks[i] > 0, False), cmap="autumn", alpha=0.6, extent=extent)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=7)
            if j == 0:
                ax.set_ylabel(captions[i], fontsize=6)
    fig.subplots_adjust(left=0.12, right=0.98, top=1 - 0.25 / (1.05 * n + 0.2), bottom=0.02, wspace=0.05, hspace=0.08)
    return png_uri(fig)

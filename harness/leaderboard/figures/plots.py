"""Small matplotlib figures, returned as ``data:image/png;base64`` URIs.

Figures are built with ``matplotlib.figure.Figure`` and the Agg renderer directly, so
no global pyplot state or display backend is involved, and the PNG carries no software
tag: the same inputs give the same bytes. They are drawn at ``DPI`` and shown at their
pixel size, so a point of type is ``DPI / 72`` pixels on the page; :func:`png_uri`
refuses a figure with text smaller than ``MIN_TEXT_PX``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

DPI = 110
MIN_TEXT_PX = 11.0  # the smallest text a figure may carry, in pixels on the page
SMALL = 7.5  # points: tick labels, legends, annotations (11.5 px at DPI)
LABEL = 8.5  # points: axis labels
TITLE = 9.5  # points: panel titles
MAX_LABEL = 30
TILE = 0.9  # inches per thumbnail of the overlay grid (99 px at DPI)


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


def small_texts(fig: Figure) -> list[tuple[str, float]]:
    """Visible text of ``fig`` smaller than ``MIN_TEXT_PX`` on the page: ``(text, pixels)``."""
    found = []
    for artist in fig.findobj(Text):
        text = artist.get_text()
        if text and artist.get_visible() and artist.get_fontsize() * DPI / 72 < MIN_TEXT_PX:
            found.append((text, artist.get_fontsize() * DPI / 72))
    return found


def png_uri(fig: Figure) -> str:
    """Render ``fig`` to a PNG data URI.

    Raises:
        ValueError: some text of the figure would be smaller than ``MIN_TEXT_PX``.
    """
    tiny = small_texts(fig)
    if tiny:
        raise ValueError(f"figure text below {MIN_TEXT_PX} px: {tiny[:5]}")
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
            fontsize=7.5,
            color="white" if shares[i, j] > 0.6 else "black",
        )
    ax.set_xticks(range(k), [str(c) for c in classes], rotation=45, ha="right", fontsize=7.5)
    ax.set_yticks(range(k), [str(c) for c in classes], fontsize=7.5)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("true", fontsize=8)
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
    fig = _new_figure(TILE * len(columns), TILE * n + 0.2)
    for i in range(n):
        image = images[i][..., 0] if images.shape[-1] == 1 else images[i]
        h, w = image.shape[:2]
        extent = (-0.5, w - 0.5, h - 0.5, -0.5)  # stretch any map size over the image
        for j, name in enumerate(columns):
            ax = fig.add_subplot(n, len(columns), i * len(columns) + j + 1)
            # nearest: the stored pixels as they are, which also keeps the PNG small
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
            if name in maps:
                ax.imshow(_unit(maps[name][i]), cmap="jet", alpha=0.45, extent=extent, vmin=0, vmax=1,
                          interpolation="nearest")
            elif name == "mask" and masks is not None:
                ax.imshow(np.ma.masked_equal(masks[i] > 0, False), cmap="autumn", alpha=0.6, extent=extent,
                          interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=7.5)
            if j == 0:
                ax.set_ylabel(captions[i], fontsize=7.5)
    fig.subplots_adjust(left=0.12, right=0.98, top=1 - 0.25 / (TILE * n + 0.2), bottom=0.02, wspace=0.05, hspace=0.08)
    return png_uri(fig)

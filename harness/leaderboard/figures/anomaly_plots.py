"""Score histograms of defect rows: normal and defect images apart, the decision threshold marked."""

from __future__ import annotations

import numpy as np

from harness.leaderboard.figures.plots import LABEL, SMALL, TITLE, _new_figure, png_uri


def score_histograms(histogram: dict[str, dict[str, np.ndarray]], threshold: float, score: str) -> str:
    """Validation and test panels of the scores of normal and defect images, with the threshold."""
    fig = _new_figure(7.2, 2.6)
    splits = [s for s in ("val", "test") if s in histogram]
    values = np.concatenate([np.asarray(v, dtype=float) for s in splits for v in histogram[s].values()] or [[0.0]])
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    bins = np.linspace(low, high if high > low else low + 1.0, 25)
    for i, split in enumerate(splits, start=1):
        ax = fig.add_subplot(1, len(splits), i)
        for name, colour in (("normal", "#4c78a8"), ("defect", "#e45756")):
            data = np.asarray(histogram[split][name], dtype=float)
            ax.hist(data, bins=bins, alpha=0.6, color=colour, label=f"{name} ({len(data)})")
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1.2, label="threshold")
        ax.set_title(f"{split}", fontsize=TITLE)
        ax.set_xlabel(score, fontsize=LABEL)
        ax.set_ylabel("images", fontsize=LABEL)
        ax.tick_params(labelsize=SMALL)
        ax.legend(fontsize=SMALL, frameon=False)
    fig.tight_layout()
    return png_uri(fig)

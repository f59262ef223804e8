"""The row page's "Training analyses" section (``_training.html.j2``).

Shown only for rows whose cells recorded train-subset metrics
(:mod:`harness.leaderboard.ranking.training`); one-class rows, ensembles and TTA rows
have none and the section stays out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.leaderboard.figures.build import FigureRef
from harness.leaderboard.ranking import training

if TYPE_CHECKING:
    from harness.leaderboard.board import Leaderboard, RowDetail
    from harness.store import Run


def training_context(run: Run | None, leaderboard: Leaderboard, detail: RowDetail, row: str) -> dict[str, Any] | None:
    """The section's values: gaps at the selected epoch, per-class lines, figures and CSV links; None without data."""
    from harness.leaderboard.figures import training_plots
    from harness.leaderboard.figures.wrong import row_slug

    if run is None:
        return None
    pairs = [(run.cells[c], s) for c, s in zip(detail.cells, detail.seeds) if c in run.cells]
    cells = training.trained_with_eval([c for c, _ in pairs])
    if not cells:
        return None
    ids = {c.id for c in cells}
    labels = [f"seed {s}" if s is not None else c.id for c, s in pairs if c.id in ids]
    per_class = training.per_class_frame(detail, leaderboard.intervals.get(row, {}), cells)
    figures = []
    histories = [(label, c.history, training.selected_epoch(c)) for label, c in zip(labels, cells)]
    gaps = [(m, *_gap_series(c.history, m)) for c in cells for m in training.METRICS]
    curves = training_plots.train_val_plot(histories, training.METRICS, gaps)
    if curves is not None:
        figures.append(FigureRef("training subset (solid) against validation (dashed) per epoch, one colour per "
                                 "seed, a star at each seed's selected epoch; right: the gap, mean over seeds",
                                 curves, "training"))
    names = list(per_class["class"])
    scores = {key: [tuple(float(line[f"test.{key}{s}"]) for s in ("", "_low", "_high")) for _, line in per_class.iterrows()]
              for key in ("precision", "recall", "f1")}
    bars = training_plots.class_score_bars(names, scores)
    if bars is not None:
        figures.append(FigureRef("test precision, recall and F1 per class (mean over seeds), whiskers: bootstrap "
                                 "intervals", bars, "training"))
    split_bars = training_plots.class_split_bars(
        names, {m: {s: list(per_class[f"{s}.{m}"]) for s in (training.TRAIN, training.VAL)} for m in training.CLASS_METRICS})
    if split_bars is not None:
        figures.append(FigureRef("accuracy and loss per class on the training subset and on validation at the "
                                 "selected epoch (mean over seeds)", split_bars, "training"))
    slug = row_slug(row)
    files = [("history", f"../{training.HISTORY_DIR}/{slug}.csv"), ("per class", f"../{training.PER_CLASS_DIR}/{slug}.csv")]
    if "train" in leaderboard.wrong_files.get(row, {}):
        files.append(("wrong on the training subset", f"../{leaderboard.wrong_files[row]['train']}"))
    samples = cells[0].config.get("train", {}).get("train_eval_samples")
    return {"summary": training.summary(cells), "classes": per_class.to_dict("records"), "figures": figures,
            "files": files, "samples": samples, "n_seeds": len(cells)}


def _gap_series(history: list[dict[str, Any]], metric: str) -> tuple[list[float], list[float]]:
    xs = [float(e.get("epoch", i + 1)) for i, e in enumerate(history)]
    return xs, [training.gap(e, metric) for e in history]

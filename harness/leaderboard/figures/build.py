"""Gather the figures from the run store: per row the confusion matrix, the reliability
diagram, training curves and map overlays, a tuned row's optimisation history and
parameter importances, an ensemble's disagreement and leave-one-out contributions; for
the board the Pareto plot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.leaderboard.board import Leaderboard, RowDetail
from harness.leaderboard.figures import curves, ensemble_plots, plots, stat_plots, tune_plots
from harness.leaderboard.ranking.samples import PredictionStore
from harness.stats.calibration import DEFAULT_BINS, reliability_curve
from harness.store import CellRecord, Run

MAX_OVERLAY_SAMPLES = 16
OVERLAY_PER_CLASS = 4


@dataclass(frozen=True)
class FigureRef:
    """One embedded image: a caption, a ``data:`` URI and what it shows.

    ``kind`` places the figure on the row page: ``"confusion"``, ``"reliability"``,
    ``"curves"``, ``"maps"``, ``"tuning"``, ``"ensemble"``, ``"pareto"``.
    """

    caption: str
    uri: str
    kind: str = ""


def select_metric(
    config: dict[str, Any], rank_by: str, history: list[dict[str, Any]], select_by: str | None = None
) -> str | None:
    """The metric a cell selected its checkpoint by, for the curves.

    ``select_by`` when given; else ``select_by`` in the config (top level or one table
    down); else the validation twin of ``rank_by`` when the history has it.
    """
    candidates = [select_by, config.get("select_by")]
    candidates += [v.get("select_by") for v in config.values() if isinstance(v, dict)]
    for value in candidates:
        if isinstance(value, str) and value:
            return value
    twin = "val." + rank_by.split(".", 1)[-1]
    return twin if any(twin in entry for entry in history) else None


def _labels_by_id(run: Run, cell: CellRecord) -> dict[str, int]:
    if not (cell.path / "predictions_test.csv").exists():
        return {}
    frame = run.predictions(cell.id, "test")
    return dict(zip(frame["sample_id"], frame["label"].astype(int)))


def _pick(thumb_ids: list[str], labels: dict[str, int], num_classes: int) -> list[int]:
    """Thumbnail indices: up to a few per class, in class order, unknown labels last."""
    groups: dict[int, list[int]] = {}
    for t, sid in enumerate(thumb_ids):
        groups.setdefault(labels.get(sid, num_classes), []).append(t)
    per_group = max(1, min(OVERLAY_PER_CLASS, MAX_OVERLAY_SAMPLES // max(1, len(groups))))
    return [t for key in sorted(groups) for t in groups[key][:per_group]]


def overlay_figure(run: Run, cell: CellRecord) -> str | None:
    """Thumbnails with every stored map overlaid, for one cell; None without both files."""
    thumbs_path, maps_path = cell.path / "thumbs_test.npz", cell.path / "maps_test.npz"
    if not (thumbs_path.exists() and maps_path.exists()):
        return None
    with np.load(thumbs_path, allow_pickle=False) as data:
        thumb_ids = [str(s) for s in data["sample_ids"]]
        images = data["images"]
    with np.load(maps_path, allow_pickle=False) as data:
        index = {str(s): i for i, s in enumerate(data["sample_ids"])}
        maps = {k[4:]: data[k] for k in data.files if k.startswith("map_")}
        masks = data["masks"] if "masks" in data.files else None
    labels = _labels_by_id(run, cell)
    classes = cell.classes
    keep = [t for t in _pick(thumb_ids, labels, len(classes)) if thumb_ids[t] in index]
    if not keep or not maps:
        return None
    rows = [index[thumb_ids[t]] for t in keep]
    captions = [
        classes[labels[thumb_ids[t]]] if thumb_ids[t] in labels and labels[thumb_ids[t]] < len(classes) else "?"
        for t in keep
    ]
    return plots.overlay_plot(
        images[keep],
        captions,
        {name: values[rows] for name, values in maps.items()},
        None if masks is None else masks[rows],
    )


def reliability_figure(store: PredictionStore, cells: list[CellRecord]) -> FigureRef | None:
    """The row's test reliability diagram, its seeds' predictions pooled; None without any."""
    found = [a for a in (store.arrays(c, "test") for c in cells) if a is not None and len(a[1])]
    if not found:
        return None
    labels = np.concatenate([a[1] for a in found])
    proba = np.concatenate([a[2] for a in found])
    curve = reliability_curve(labels, proba, DEFAULT_BINS)
    what = f"class {cells[0].classes[1]!r}" if proba.shape[1] == 2 else "top label"
    caption = f"test reliability diagram ({what}, {DEFAULT_BINS} bins, {len(found)} seed(s) pooled)"
    return FigureRef(caption, stat_plots.reliability_plot(curve, DEFAULT_BINS, f"reliability, {what}"), "reliability")


def row_figures(
    run: Run,
    leaderboard: Leaderboard,
    detail: RowDetail,
    select_by: str | None = None,
    store: PredictionStore | None = None,
) -> list[FigureRef]:
    """Every figure of one row, in display order."""
    store = store or PredictionStore(run)
    cells = [run.cells[c] for c in detail.cells]
    figures: list[FigureRef] = []
    if detail.confusion is not None:
        uri = plots.confusion_plot(detail.confusion, detail.classes)
        figures.append(FigureRef(f"test confusion matrix, summed over {len(cells)} seed(s)", uri, "confusion"))
    if not cells:  # a chance row: labels only, no predictions to draw curves or maps from
        return figures
    reliability = reliability_figure(store, cells)
    if reliability is not None:
        figures.append(reliability)
    histories = [(f"seed {seed}" if seed is not None else c.id, c.history) for seed, c in zip(detail.seeds, cells)]
    select = select_metric(cells[0].config, leaderboard.rank_by, cells[0].history, select_by)
    drawn = curves.curves_plot(histories, select)
    if drawn is not None:
        figures.append(FigureRef(curves.curves_caption(histories), drawn, "curves"))
    for seed, cell in zip(detail.seeds, cells):
        overlay = overlay_figure(run, cell)
        if overlay is not None:
            figures.append(FigureRef(f"test maps of {cell.id} (seed {seed})", overlay, "maps"))
            break  # the first seed that stored maps stands for the row
    return figures


def all_figures(
    run: Run, leaderboard: Leaderboard, select_by: str | None = None, store: PredictionStore | None = None
) -> dict[str, list[FigureRef]]:
    """Row key to its figures, for every ranked row (``select_by``: see :func:`select_metric`)."""
    store = store or PredictionStore(run)
    return {row: row_figures(run, leaderboard, d, select_by, store) for row, d in leaderboard.details.items()}


def pareto_figure(leaderboard: Leaderboard) -> FigureRef | None:
    """Quality against latency with the Pareto front, or None without both axes."""
    cost, value = leaderboard.pareto_cost, leaderboard.pareto_value
    if cost is None or value is None or leaderboard.rows.empty:
        return None
    rows = leaderboard.rows
    uri = stat_plots.pareto_plot(
        rows[f"{cost}_mean"].to_numpy(dtype=np.float64),
        rows[f"{value}_mean"].to_numpy(dtype=np.float64),
        [int(r) for r in rows["rank"]],
        rows["pareto"].to_numpy(dtype=bool),
        f"{cost} (per image, batch 1)",
        f"{value} (mean over seeds)",
    )
    caption = f"{value} against {cost}; red: the Pareto front (no row is both faster and better)"
    return FigureRef(caption, uri, "pareto")


def tuning_figures(detail: RowDetail) -> list[FigureRef]:
    """A tuned row's optimisation history and parameter importances (none if not tuned)."""
    tuning = detail.tuning
    if tuning is None:
        return []
    figures = []
    history = tune_plots.history_plot(tuning["seeds"], tuning["metric"], tuning["direction"])
    if history is not None:
        caption = (
            f"optimisation history of {tuning['metric']}, one colour per seed: filled dots complete trials, "
            "crosses pruned trials (at their last reported value), triangles on the bottom edge failed trials; "
            "the line is the best completed trial so far"
        )
        figures.append(FigureRef(caption, history, "tuning"))
    importances = tune_plots.importance_plot(tuning["seeds"])
    if importances is not None:
        figures.append(FigureRef("parameter importances per seed (most important first)", importances, "tuning"))
    return figures


def ensemble_figures(detail: RowDetail) -> list[FigureRef]:
    """An ensemble row's disagreement heatmap and leave-one-out bars (none without an analysis)."""
    analysis = (detail.ensemble or {}).get("analysis")
    if analysis is None:
        return []
    n = analysis["n_folders"]
    over = f"mean over {n} ensemble folders (seeds)" if n > 1 else "one ensemble folder"
    labels = analysis["labels"]
    figures = [
        FigureRef(
            f"share of {analysis['split']} samples on which two members predict different classes ({over})",
            ensemble_plots.disagreement_plot(analysis["disagreement"], labels),
            "ensemble",
        )
    ]
    members = analysis["members"]
    bars = ensemble_plots.contribution_plot(
        [m["label"] for m in members], {s: [m["contribution"][s] for m in members] for s in ("accuracy", "f1_macro")}
    )
    if bars is not None:
        caption = f"leave-one-out contribution on {analysis['split']}: the ensemble's score minus the score of the "
        caption += f"same method re-fitted without the member ({over})"
        figures.append(FigureRef(caption, bars, "ensemble"))
    return figures

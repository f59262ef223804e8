"""From a stored run to ranked rows: pandas does the grouping, statistics and ranking.

A row is one model configuration (``config["row"]``); its finished cells differ only by
seed. Every numeric value of ``metrics.json``, and the calibration metrics computed from
the stored predictions (``<split>.ece``, ``<split>.brier``, ``<split>.brier_positive_class``),
is averaged over the row's cells (mean of the cells that recorded it) with its sample
standard deviation (``ddof=1``, so NaN with a single seed).
"""

from __future__ import annotations

import difflib
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.leaderboard.board import Leaderboard, RowDetail
from harness.leaderboard.ranking.derived import ensemble_info, row_kind, tta_info
from harness.leaderboard.ranking.samples import PredictionStore
from harness.leaderboard.ranking.tuning import row_tuning
from harness.metrics import confusion_matrix, lower_is_better
from harness.store import CellRecord, Run

HEADLINE = ("test.accuracy", "test.balanced_accuracy", "test.f1_macro", "test.auroc")
LOCALISATION = (
    "test.cam_iou",
    "test.pointgame",
    "test.energy_inside",
    "test.loc_iou",
    "test.loc_dice",
    "test.loc_pixel_acc",
)
PER_CLASS = ("precision", "recall", "f1", "support")
CALIBRATION = ("test.ece", "test.brier", "test.brier_positive_class")
EFFICIENCY = ("params", "gmacs", "test.latency_ms", "test.latency_iqr_ms", "test.latency_unstable", "test.images_per_second",
              "train_seconds", "test.infer_seconds")


def _numeric(metrics: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a ``metrics.json`` (booleans and nested values left out)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _seed_key(cell: CellRecord) -> tuple[float, str, str]:
    seed = cell.config.get("seed")
    number = float(seed) if isinstance(seed, int | float) and not isinstance(seed, bool) else math.inf
    return (number, str(seed), cell.id)


def cell_frame(cells: list[CellRecord], store: PredictionStore | None = None) -> pd.DataFrame:
    """One line per finished cell: ``row``, ``cell``, then its numeric metrics.

    With a ``store``, the calibration metrics of the cell's stored predictions join the
    metrics of ``metrics.json`` (which win if both hold a name).
    """
    records = [
        {"row": c.row, "cell": c.id, **(store.calibration(c) if store else {}), **_numeric(c.metrics)} for c in cells
    ]
    if not records:
        return pd.DataFrame(columns=["row", "cell"])
    return pd.DataFrame.from_records(records)


def metric_order(names: list[str], rank_by: str) -> tuple[str, ...]:
    """``rank_by`` first, then the other metrics alphabetically."""
    return (rank_by, *sorted(n for n in names if n != rank_by)) if rank_by in names else tuple(sorted(names))


def aggregate_rows(frame: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Mean, std and seed count of every metric per row (rows in key order)."""
    grouped = frame.groupby("row", sort=True)
    means = grouped[list(metrics)].mean()
    stds = grouped[list(metrics)].std(ddof=1)
    columns = {"n_seeds": grouped.size()}
    for m in metrics:
        columns[f"{m}_mean"] = means[m]
        columns[f"{m}_std"] = stds[m]
    # one frame built at once: inserting hundreds of columns one by one fragments it
    return pd.DataFrame(columns).rename_axis("row").reset_index()


def rank_rows(rows: pd.DataFrame, rank_by: str) -> pd.DataFrame:
    """Sort rows best first by ``rank_by``'s mean and number them.

    Equal means share a rank (the smallest); rows without the metric come last. Ties
    are listed by row key so the order never depends on input order.
    """
    col = f"{rank_by}_mean"
    ascending = lower_is_better(rank_by)
    ranks = rows[col].rank(method="min", ascending=ascending, na_option="bottom").astype(int)
    rows = rows.assign(rank=ranks).sort_values(["rank", "row"], kind="stable").reset_index(drop=True)
    front = ["rank", "row"]
    return rows[front + [c for c in rows.columns if c not in front]]


def _check_rank_by(rank_by: str, metrics: list[str]) -> None:
    if rank_by in metrics:
        return
    close = difflib.get_close_matches(rank_by, metrics, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise HarnessError(f"rank_by {rank_by!r} is not a metric of this run.{hint} Available: {', '.join(metrics)}")


def _present(wanted: list[str], metrics: tuple[str, ...]) -> tuple[str, ...]:
    seen: list[str] = []
    for m in wanted:
        if m in metrics and m not in seen:
            seen.append(m)
    return tuple(seen)


def shown_metrics(metrics: tuple[str, ...], rank_by: str) -> tuple[str, ...]:
    """The ranking table's metric columns: ``rank_by``, headline and localisation metrics.

    Costs and timings have their own table (:func:`efficiency_columns`), calibration too.
    """
    return _present([rank_by, *HEADLINE, *LOCALISATION], metrics)


def efficiency_columns(metrics: tuple[str, ...]) -> tuple[str, ...]:
    """The efficiency table's columns: parameters, GMACs, latency, throughput, timings.

    ``cost.infer_seconds`` of ensemble and TTA rows is left out: those rows record the
    same number as their ``test.infer_seconds``, which has a column.
    """
    timings = sorted(m for m in metrics if m.endswith("seconds") and not m.startswith("cost."))
    return _present([*EFFICIENCY, *timings], metrics)


def calibration_columns(metrics: tuple[str, ...]) -> tuple[str, ...]:
    """The calibration table's columns."""
    return _present(list(CALIBRATION), metrics)


def describe_model(config: dict[str, Any]) -> str:
    """``timm (arch=convnext_atto, drop_rate=0.1)`` from a cell config's ``model`` entry.

    Derived rows name their method: ``soft-voting`` or ``weighted (ensemble_size=20)``
    for an ensemble, ``tta (mean)`` or ``tta (view search)`` for a TTA row.
    """
    if config.get("kind") == "ensemble":
        return describe_model({"model": {**(config.get("options") or {}), "plugin": config.get("plugin", "?")}})
    if config.get("kind") == "tta":
        return "tta (view search)" if "chosen_views" in config else f"tta ({config.get('merge') or '?'})"
    model = config.get("model")
    if isinstance(model, dict):
        options = ", ".join(f"{k}={_option_text(v)}" for k, v in sorted(model.items()) if k != "plugin")
        plugin = str(model.get("plugin", "?"))
        return f"{plugin} ({options})" if options else plugin
    return "" if model is None else str(model)


def _option_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def row_confusion(store: PredictionStore, cells: list[CellRecord]) -> np.ndarray | None:
    """Test confusion matrix summed over the cells that stored test predictions."""
    total: np.ndarray | None = None
    for cell in cells:
        arrays = store.arrays(cell, "test")
        if arrays is None:
            continue
        cm = confusion_matrix(arrays[1], arrays[2].argmax(axis=1), len(cells[0].classes))
        total = cm if total is None else total + cm
    return total


def per_class_table(line: pd.Series, classes: tuple[str, ...]) -> pd.DataFrame:
    """Test precision/recall/F1/support per class from a row's aggregated metrics."""
    data = {key: [float(line.get(f"test.{key}_{c}_mean", np.nan)) for c in classes] for key in PER_CLASS}
    return pd.DataFrame(data, index=pd.Index(list(classes), name="class"))


def _sources(cells: list[CellRecord]) -> tuple[str, ...]:
    """The cells a derived row was built from, in first-seen order."""
    found: dict[str, None] = {}
    for cell in cells:
        ids = cell.config.get("members") or ([cell.config["source"]] if cell.config.get("source") else [])
        found.update(dict.fromkeys(str(i) for i in ids))
    return tuple(found)


def _details(
    run: Run, store: PredictionStore, ranked: pd.DataFrame, by_row: dict[str, list[CellRecord]]
) -> dict[str, RowDetail]:
    details: dict[str, RowDetail] = {}
    for _, line in ranked.iterrows():
        cells = by_row[line["row"]]
        first = cells[0]
        kind = row_kind(cells)
        details[line["row"]] = RowDetail(
            row=line["row"],
            model=describe_model(first.config),
            cells=tuple(c.id for c in cells),
            seeds=tuple(c.config.get("seed") for c in cells),
            classes=first.classes,
            per_class=per_class_table(line, first.classes),
            confusion=row_confusion(store, cells),
            kind=kind,
            sources=_sources(cells),
            tuning=row_tuning(cells),
            ensemble=ensemble_info(run, cells) if kind == "ensemble" else None,
            tta=tta_info(run, cells) if kind == "tta" else None,
        )
    return details


def summarise(
    run: Run, *, rank_by: str, title: str, description: str = "", store: PredictionStore | None = None
) -> Leaderboard:
    """Aggregate and rank a run's finished cells.

    Args:
        run: the stored run.
        rank_by: the ranking metric.
        title: page title.
        description: a paragraph under the title.
        store: where predictions are read from (one is made when None).

    Raises:
        HarnessError: some cells finished but none recorded ``rank_by``.
    """
    store = store or PredictionStore(run)
    done = sorted(run.done(), key=_seed_key)
    by_row: dict[str, list[CellRecord]] = {}
    for cell in done:
        by_row.setdefault(cell.row, []).append(cell)
    frame = cell_frame(done, store)
    names = [c for c in frame.columns if c not in ("row", "cell")]
    metrics = metric_order(names, rank_by)
    if done:
        _check_rank_by(rank_by, sorted(names))
        rows = rank_rows(aggregate_rows(frame, metrics), rank_by)
    else:
        rows = pd.DataFrame(columns=["rank", "row", "n_seeds"])
    rows.insert(2, "model", [describe_model(by_row[r][0].config) for r in rows["row"]])
    cells = run.cells.values()
    return Leaderboard(
        experiment=_experiment_name(run),
        title=title,
        description=description,
        rank_by=rank_by,
        rows=rows,
        metrics=metrics,
        shown=shown_metrics(metrics, rank_by),
        efficiency=efficiency_columns(metrics),
        calibration=calibration_columns(metrics),
        details=_details(run, store, rows, by_row),
        failed=tuple({"cell": c.id, "reason": c.reason} for c in cells if c.status == "failed"),
        incomplete=tuple(c.id for c in cells if c.status not in ("done", "failed")),
        meta=dict(run.meta),
        run_dir=run.path.resolve(),
    )


def _experiment_name(run: Run) -> str:
    for key in ("experiment", "name"):
        value = run.meta.get(key)
        if isinstance(value, str) and value:
            return value
    return run.path.name

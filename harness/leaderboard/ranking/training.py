"""Training analyses of a row: train-subset against validation, per epoch and per class.

A cell trained with ``[train] train_eval_samples`` > 0 records ``train_eval.<metric>`` (a
fixed subset of its training split, scored like validation) beside ``val.<metric>`` in
every epoch of ``history.json`` (:mod:`harness.train.train_eval`). From those:

- ``training/<row-slug>.csv``: one line per seed and epoch, every number the history holds,
  ``selected`` marking the epoch whose weights were kept, and the generalisation gap;
- ``per_class/<row-slug>.csv``: one line per class, the test precision, recall and F1
  (mean over seeds, with their bootstrap intervals) and, at the selected epoch (mean over
  seeds), accuracy and loss on the training subset and on validation, and their gaps.

The gap is signed so that a positive value means the model does better on the training
subset than on validation (over-fitting): ``train − val`` for accuracy and F1,
``val − train`` for a loss. One-class rows and rows without such histories (ensembles,
TTA, cells trained before this existed or with ``train_eval_samples = 0``) have none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.metrics import lower_is_better

if TYPE_CHECKING:
    import pandas as pd

    from harness.leaderboard.board import Leaderboard, RowDetail
    from harness.store import CellRecord, Run

TRAIN, VAL = "train_eval", "val"
METRICS = ("loss", "accuracy", "f1_macro")
CLASS_METRICS = ("accuracy", "loss")
HISTORY_DIR, PER_CLASS_DIR = "training", "per_class"  # history/ holds the compare results
FIRST = ("seed", "cell", "epoch", "selected")


def trained_with_eval(cells: Sequence[CellRecord]) -> list[CellRecord]:
    """The cells whose histories hold train-subset metrics."""
    return [c for c in cells if any(f"{TRAIN}.loss" in e for e in c.history)]


def gap(entry: dict[str, Any], metric: str) -> float:
    """Train-subset minus validation, signed so that > 0 means better on the training subset."""
    train, val = entry.get(f"{TRAIN}.{metric}"), entry.get(f"{VAL}.{metric}")
    if not isinstance(train, int | float) or not isinstance(val, int | float):
        return math.nan
    return float(val - train) if lower_is_better(metric) else float(train - val)


def selected_epoch(cell: CellRecord) -> int:
    """The epoch whose weights the cell kept (``best_epoch``; the last one when not recorded)."""
    best = cell.metrics.get("best_epoch")
    if isinstance(best, int | float) and not math.isnan(best) and best >= 1:
        return int(best)
    return int(cell.history[-1].get("epoch", len(cell.history))) if cell.history else 0


def selected_entry(cell: CellRecord) -> dict[str, Any]:
    """The history entry of the selected epoch (empty when the history lacks it)."""
    epoch = selected_epoch(cell)
    return next((e for e in cell.history if e.get("epoch") == epoch), {})


def _seed(cell: CellRecord, seed: Any) -> str:
    return cell.id if seed is None else str(seed)


def history_frame(cells: Sequence[CellRecord], seeds: Sequence[Any]) -> pd.DataFrame:
    """One line per seed and epoch: ``seed, cell, epoch, selected``, the gaps, then every number recorded."""
    import pandas as pd

    lines = []
    for cell, seed in zip(cells, seeds):
        chosen = selected_epoch(cell)
        for i, entry in enumerate(cell.history):
            epoch = int(entry.get("epoch", i + 1))
            numbers = {k: v for k, v in entry.items() if isinstance(v, int | float) and not isinstance(v, bool)}
            numbers.pop("epoch", None)
            gaps = {f"gap.{m}": gap(entry, m) for m in METRICS}
            lines.append({"seed": _seed(cell, seed), "cell": cell.id, "epoch": epoch, "selected": epoch == chosen,
                          **gaps, **numbers})
    frame = pd.DataFrame(lines)
    rest = sorted(c for c in frame.columns if c not in FIRST and not c.startswith("gap."))
    return frame[[*FIRST, *(f"gap.{m}" for m in METRICS), *rest]]


def _mean(values: Sequence[Any]) -> float:
    found = [float(v) for v in values if isinstance(v, int | float) and not math.isnan(v)]
    return sum(found) / len(found) if found else math.nan


def per_class_frame(detail: RowDetail, intervals: dict[str, Any], cells: Sequence[CellRecord]) -> pd.DataFrame:
    """One line per class: test P/R/F1 with intervals, and train-subset vs validation at the selected epoch."""
    import pandas as pd

    entries = [selected_entry(c) for c in cells]
    lines = []
    for name in detail.classes:
        test = detail.per_class.loc[name] if name in detail.per_class.index else None
        line: dict[str, Any] = {"class": name, "support": float(test["support"]) if test is not None else math.nan}
        for key in ("precision", "recall", "f1"):
            found = intervals.get(f"test.{key}_{name}")
            line[f"test.{key}"] = float(test[key]) if test is not None else math.nan
            line[f"test.{key}_low"] = found.low if found else math.nan
            line[f"test.{key}_high"] = found.high if found else math.nan
        for metric in CLASS_METRICS:
            for split in (TRAIN, VAL):
                line[f"{split}.{metric}"] = _mean([e.get(f"{split}.{metric}_{name}") for e in entries])
            line[f"gap.{metric}"] = gap({f"{s}.{metric}": line[f"{s}.{metric}"] for s in (TRAIN, VAL)}, metric)
        lines.append(line)
    return pd.DataFrame(lines)


def summary(cells: Sequence[CellRecord]) -> list[dict[str, Any]]:
    """Loss, accuracy and macro F1 at the selected epoch, mean over seeds: train subset, validation, gap."""
    entries = [selected_entry(c) for c in cells]
    return [
        {
            "metric": m,
            "train": _mean([e.get(f"{TRAIN}.{m}") for e in entries]),
            "val": _mean([e.get(f"{VAL}.{m}") for e in entries]),
            "gap": _mean([gap(e, m) for e in entries]),
        }
        for m in METRICS
    ]


def training_files(leaderboard: Leaderboard, run: Run) -> dict[str, str]:
    """``training/<row-slug>.csv`` and ``per_class/<row-slug>.csv`` of every row trained with train-subset metrics."""
    from harness.leaderboard.figures.wrong import row_slug

    out = {}
    for row, detail in leaderboard.details.items():
        pairs = [(run.cells[c], s) for c, s in zip(detail.cells, detail.seeds) if c in run.cells]
        kept = trained_with_eval([c for c, _ in pairs])
        if not kept:
            continue
        ids = {c.id for c in kept}
        seeds = [s for c, s in pairs if c.id in ids]
        slug = row_slug(row)
        out[f"{HISTORY_DIR}/{slug}.csv"] = _csv(history_frame(kept, seeds))
        out[f"{PER_CLASS_DIR}/{slug}.csv"] = _csv(per_class_frame(detail, leaderboard.intervals.get(row, {}), kept))
    return out


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format="%.6g", lineterminator="\n")

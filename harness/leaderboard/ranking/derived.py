"""Rows built from other rows' stored predictions: ensembles and TTA rows.

Their folders (``ens-*``, ``tta-*``; :mod:`harness.ensembles`) carry ``kind`` in
``config.json``. An ensemble folder also holds ``analysis.json`` (members' scores, the
oracle accuracy, pairwise disagreement and leave-one-out contributions; format in
:mod:`harness.ensembles.report`). A row has one folder per seed (or one for an ensemble
across seeds); the summaries below keep each folder's values and average them over the
folders where that makes sense, members matched by name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from harness.store import CellRecord, Run, read_json

KINDS = ("ensemble", "tta")
TRAINED = {"folds": "fold models", "snapshots": "snapshots"}  # ensembles whose members were made by training
SCORES = ("accuracy", "f1_macro", "log_loss")


def row_kind(cells: list[CellRecord]) -> str:
    """``"ensemble"``, ``"tta"`` or ``"model"`` (a trained cell), from the first cell's config."""
    kind = cells[0].config.get("kind") if cells else None
    return kind if kind in KINDS else "model"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _mean(values: list[Any]) -> float | None:
    """Mean of the finite values, None without any."""
    found = [v for v in map(_number, values) if v is not None]
    return sum(found) / len(found) if found else None


def _seed_of(run: Run, cell_id: str) -> Any:
    cell = run.cells.get(cell_id)
    return cell.config.get("seed", cell_id) if cell is not None else cell_id


def member_labels(run: Run, ids: list[str], rows: list[str]) -> list[str]:
    """How members are named: their row, with the seed when a row occurs twice (across seeds)."""
    return [f"{row} (seed {_seed_of(run, i)})" if rows.count(row) > 1 else row for i, row in zip(ids, rows)]


def _analysis(cell: CellRecord) -> dict[str, Any] | None:
    path = cell.path / "analysis.json"
    if not path.exists():
        return None
    try:
        found = read_json(path)
    except (OSError, json.JSONDecodeError):
        return None
    return found if isinstance(found, dict) else None


def _folder(run: Run, cell: CellRecord) -> dict[str, Any]:
    """One ensemble folder: its members, weights, cost and analysis, members named."""
    config = cell.config
    ids = [str(i) for i in config.get("members") or []]
    rows = [str(r) for r in config.get("member_rows") or ids]
    if config.get("source") in TRAINED:  # k fold models or snapshots of one row: members are not cells
        rows = rows[:1] * len(ids)
        labels = [f"{rows[0]} ({i})" for i in ids]
    else:
        labels = member_labels(run, ids, rows)
    weights = config.get("weights")
    analysis = _analysis(cell)
    by_id = dict(zip(ids, labels))
    if analysis is not None:
        for key in ("members", "leave_one_out"):
            for entry in analysis.get(key) or []:
                entry["label"] = by_id.get(str(entry.get("id")), str(entry.get("row", entry.get("id"))))
    return {
        "cell": cell.id,
        "seed": config.get("seed"),
        "members": ids,
        "member_rows": rows,
        "labels": labels,
        "weights": [float(w) for w in weights] if isinstance(weights, list) and len(weights) == len(ids) else None,
        "cost_seconds": _number(cell.metrics.get("cost.infer_seconds")),
        "analysis": analysis,
    }


def _ordered(lists: list[list[str]]) -> list[str]:
    """Every name once, in first-seen order."""
    return list(dict.fromkeys(n for names in lists for n in names))


def _row_weights(folders: list[dict[str, Any]], rows: list[str]) -> dict[str, float] | None:
    """Each member row's share of the weight (its cells summed), averaged over the folders."""
    weighted = [f for f in folders if f["weights"] is not None]
    if not weighted:
        return None
    shares: dict[str, list[float]] = {r: [] for r in rows}
    for f in weighted:
        for r in rows:
            if r in f["member_rows"]:
                shares[r].append(sum(w for w, mr in zip(f["weights"], f["member_rows"]) if mr == r))
    return {r: sum(v) / len(v) for r, v in shares.items() if v}


def _member_table(analyses: list[dict[str, Any]], labels: list[str]) -> list[dict[str, Any]]:
    """Per member (by label): scores alone, and without it, mean over the folders."""

    def collect(key: str, label: str, pick: Callable[[dict[str, Any]], Any]) -> list[Any]:
        return [pick(e) for a in analyses for e in a.get(key) or [] if e.get("label") == label]

    table = []
    for label in labels:
        row = next((e.get("row") for a in analyses for e in a.get("members") or [] if e.get("label") == label), label)
        entry: dict[str, Any] = {"label": label, "row": row}
        entry["alone"] = {s: _mean(collect("members", label, lambda e, s=s: e.get(s))) for s in SCORES}
        entry["without"] = {
            s: _mean(collect("leave_one_out", label, lambda e, s=s: (e.get("without") or {}).get(s))) for s in SCORES
        }
        entry["contribution"] = {
            s: _mean(collect("leave_one_out", label, lambda e, s=s: (e.get("contribution") or {}).get(s)))
            for s in SCORES
        }
        table.append(entry)
    return table


def _disagreement(analyses: list[dict[str, Any]], labels: list[str]) -> list[list[float | None]]:
    """``[M, M]`` pairwise disagreement, each pair averaged over the folders holding both."""
    sums = [[[] for _ in labels] for _ in labels]
    index = {label: i for i, label in enumerate(labels)}
    for a in analyses:
        names = [e.get("label") for e in a.get("members") or []]
        matrix = a.get("disagreement") or []
        for i, x in enumerate(names):
            for j, y in enumerate(names):
                if i < len(matrix) and j < len(matrix[i]) and x in index and y in index:
                    sums[index[x]][index[y]].append(matrix[i][j])
    return [[_mean(cell) for cell in line] for line in sums]


def _best_member(analysis: dict[str, Any]) -> float | None:
    found = [v for v in (_number(m.get("accuracy")) for m in analysis.get("members") or []) if v is not None]
    return max(found) if found else None


def _summary(analyses: list[dict[str, Any]], labels: list[str]) -> dict[str, Any] | None:
    """The analyses of a row's folders, averaged (members matched by label)."""
    if not analyses:
        return None
    return {
        "split": analyses[0].get("split", "test"),
        "fit_split": analyses[0].get("fit_split", "val"),
        "n_folders": len(analyses),
        "oracle_accuracy": _mean([a.get("oracle_accuracy") for a in analyses]),
        "ensemble": {s: _mean([(a.get("ensemble") or {}).get(s) for a in analyses]) for s in SCORES},
        "best_member_accuracy": _mean([_best_member(a) for a in analyses]),
        "mean_disagreement": _mean([a.get("mean_disagreement") for a in analyses]),
        "labels": labels,
        "disagreement": _disagreement(analyses, labels),
        "members": _member_table(analyses, labels),
    }


def ensemble_info(run: Run, cells: list[CellRecord]) -> dict[str, Any]:
    """Everything shown about an ensemble row.

    Returns:
        ``plugin``, ``name``, ``trained`` (``"fold models"`` or ``"snapshots"`` when the
        members were made by training one row, else None), ``options``, ``across_seeds``, ``fit_split``,
        ``member_rows`` (distinct, in member order), ``weights`` (member row to its
        summed weight, mean over folders; None for methods without weights),
        ``cost_seconds`` (members' test inference seconds summed, mean over folders),
        ``folders`` (per folder: ``cell``, ``seed``, ``members``, ``member_rows``,
        ``labels``, ``weights``, ``cost_seconds``, ``analysis``) and ``analysis`` (the
        folders' analyses averaged, see :func:`_summary`; None without any).
    """
    config = cells[0].config
    folders = [_folder(run, c) for c in cells]
    rows = _ordered([f["member_rows"] for f in folders])
    analyses = [f["analysis"] for f in folders if f["analysis"] is not None]
    return {
        "plugin": str(config.get("plugin", "")),
        "name": str(config.get("name", "")),
        "trained": TRAINED.get(config.get("source")),
        "options": dict(config.get("options") or {}),
        "across_seeds": bool(config.get("across_seeds", False)),
        "fit_split": config.get("fit_split"),
        "member_rows": rows,
        "weights": _row_weights(folders, rows),
        "cost_seconds": _mean([f["cost_seconds"] for f in folders]),
        "folders": folders,
        "analysis": _summary(analyses, _ordered([f["labels"] for f in folders])),
    }


SEARCH_KEYS = ("search_metric", "chosen_views", "chosen_merge", "val_score", "val_score_identity", "val_gain")


def _tta_folder(run: Run, cell: CellRecord) -> dict[str, Any]:
    config = cell.config
    source = str(config.get("source", ""))
    found = run.cells.get(source)
    entry = {
        "cell": cell.id,
        "seed": config.get("seed"),
        "source": source,
        "source_row": found.row if found is not None else source,
        "views": [str(v) for v in config.get("views") or []],
        "merge": config.get("merge"),
        "cost_multiplier": _number(config.get("cost_multiplier", cell.metrics.get("cost_multiplier"))),
        "cost_seconds": _number(cell.metrics.get("cost.infer_seconds")),
        "search": "chosen_views" in config,
    }
    if entry["search"]:
        entry |= {k: config.get(k) for k in SEARCH_KEYS}
        entry |= {k: _number(entry[k]) for k in ("val_score", "val_score_identity", "val_gain")}
    return entry


def tta_info(run: Run, cells: list[CellRecord]) -> dict[str, Any]:
    """Everything shown about a TTA row.

    Returns:
        ``source_rows`` (the rows it augments), ``search`` (views chosen on
        validation), ``cost_multiplier`` and ``cost_seconds`` (mean over seeds), and
        ``folders`` (per seed: ``cell``, ``seed``, ``source``, ``source_row``,
        ``views``, ``merge``, ``cost_multiplier``, ``cost_seconds``, and for a search
        ``search_metric``, ``chosen_views``, ``chosen_merge``, ``val_score``,
        ``val_score_identity``, ``val_gain``).
    """
    folders = [_tta_folder(run, c) for c in cells]
    return {
        "source_rows": _ordered([[f["source_row"]] for f in folders]),
        "search": any(f["search"] for f in folders),
        "cost_multiplier": _mean([f["cost_multiplier"] for f in folders]),
        "cost_seconds": _mean([f["cost_seconds"] for f in folders]),
        "val_gain": _mean([f.get("val_gain") for f in folders]),
        "folders": folders,
    }

"""Settings applied after training, computed for cells that finished before they were set.

``[tta]``, ``[[ensemble]]`` and metric plugins are not part of the cell key: adding them
to a finished experiment must not retrain anything. Ensembles work from the stored
predictions as they are. TTA needs each view's predictions, which a cell stores only when
``[tta]`` was set while it trained: :func:`backfill_tta` computes the missing ones from the
cell's stored checkpoint, exactly as training would have (same weights, same evaluation
preprocessing, same batched views), and writes ``tta_<split>.npz``. A metric function
installed later is run by :func:`backfill_metrics` on the stored val and test
predictions; its new keys join ``metrics.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.matrix import Cell
from harness.store import read_cell

Echo = Callable[[str], None]


def missing_tta(cell_dir: Path, tta: dict[str, Any]) -> list[str]:
    """The splits of ``[tta]`` whose stored views are missing or lack a requested view."""
    from harness.tta.store import load_tta, tta_path

    wanted = list(tta.get("views", []))
    missing = []
    for split in tta.get("splits", ("val", "test")):
        if not tta_path(cell_dir, split).exists():
            missing.append(split)
            continue
        try:
            stored = load_tta(cell_dir, split)
        except (HarnessError, OSError, ValueError):
            missing.append(split)
            continue
        if not set(wanted) <= set(stored.views):
            missing.append(split)
    return missing


def backfill_tta(run_root: Path, cells: list[Cell], tta: dict[str, Any] | None,
                 datasets: Mapping[str, Any], dataset_of: Mapping[str, str], registries: dict[str, Any], *,
                 echo: Echo | None = None) -> list[str]:
    """Store the TTA views of every finished cell that lacks them; returns those cells' ids.

    A cell whose data or checkpoint cannot be had is left as it is (its TTA row is then
    missing, with the reason printed); nothing here retrains.
    """
    if not tta:
        return []
    done = []
    for cell in cells:
        cell_dir = Path(run_root) / cell.id
        record = read_cell(cell_dir)
        if record.status != "done" or "model" not in record.config:
            continue
        splits = missing_tta(cell_dir, tta)
        if not splits:
            continue
        try:
            data = datasets[dataset_of[cell.id]]
            if isinstance(data, HarnessError):
                raise data
            _store_views(record, data, splits, tta, registries)
        except HarnessError as exc:
            if echo:
                echo(f"tta {cell.id}: views not computed from the checkpoint: {exc}")
            continue
        if echo:
            echo(f"tta {cell.id}: views {', '.join(tta['views'])} computed from the stored checkpoint "
                 f"({', '.join(splits)}; no retraining)")
        done.append(cell.id)
    return done


def _store_views(record: Any, dataset: Any, splits: list[str], tta: dict[str, Any], registries: dict[str, Any]) -> None:
    import torch

    from harness.predict.nodes import ModelNode
    from harness.train.loop import resolve_device
    from harness.train.tensors import Normalizer, eval_tensors
    from harness.tta import store_tta

    device = resolve_device(record.config.get("train", {}).get("device", "cpu"))
    node = ModelNode(record, registries, device)
    normalize = Normalizer(device, node.pre)
    batch_size = int(record.config.get("train", {}).get("eval_batch_size", 128))
    with torch.no_grad():
        for split in splits:
            data = eval_tensors(dataset.split(split), node.pre)
            store_tta(node.model, data, record.path, split, list(tta["views"]), normalize=normalize,
                      batch_size=batch_size, device=device, registries=registries)


APPLIED = "metric_functions.json"  # the metric functions a cell's metrics.json has seen


def backfill_metrics(run_root: Path, cells: list[Cell], registries: dict[str, Any], *,
                     echo: Echo | None = None) -> list[str]:
    """Add the metrics of metric functions a finished cell has not seen; returns those cells' ids.

    Existing values are never changed. Each cell records the functions it has seen in
    ``metric_functions.json``, so the predictions are read again only when a new one
    is installed.
    """
    from harness.store import atomic_write_json, load_run, read_json_checked

    entries = {f"{e.plugin}:{e.name}": e.factory for e in registries["metrics"]}
    run = None
    updated = []
    for cell in cells:
        cell_dir = Path(run_root) / cell.id
        record = read_cell(cell_dir)
        if record.status != "done" or "model" not in record.config:
            continue
        try:
            seen = set(read_json_checked(cell_dir / APPLIED)) if (cell_dir / APPLIED).exists() else set()
        except HarnessError:
            seen = set()
        if set(entries) <= seen:
            continue
        run = run or load_run(run_root)
        added: dict[str, float] = {}
        for split in ("val", "test"):
            try:
                pred = run.prediction_set(cell.id, split)
            except HarnessError:
                continue
            for name, fn in entries.items():
                if name in seen:
                    continue
                try:
                    values = fn(pred)
                except Exception as exc:  # noqa: BLE001 - a broken metric leaves the cell as it was
                    if echo:
                        echo(f"metrics {cell.id}: {name} failed on the stored {split} predictions: {exc!r}")
                    continue
                added.update({f"{split}.{k}": float(v) for k, v in values.items()
                              if f"{split}.{k}" not in record.metrics})
        if added:
            atomic_write_json(cell_dir / "metrics.json", {**record.metrics, **added})
            updated.append(cell.id)
            if echo:
                echo(f"metrics {cell.id}: {', '.join(sorted(added))} computed from the stored predictions")
        atomic_write_json(cell_dir / APPLIED, sorted(entries))
    return updated


OPTIONS_APPLIED = "metric_options.json"  # the [metrics.<family>] options a cell's metrics.json was computed with


def _applied_options(cell_dir: Path) -> dict[str, Any]:
    from harness.store import read_json_checked

    try:
        found = read_json_checked(cell_dir / OPTIONS_APPLIED) if (cell_dir / OPTIONS_APPLIED).exists() else {}
    except HarnessError:
        found = {}
    return found if isinstance(found, dict) else {}


def _recomputed(run: Any, cell_id: str, families: dict[str, dict[str, Any]], registries: dict[str, Any],
                echo: Echo | None) -> dict[str, float] | None:
    """The families' metrics of the cell's stored val and test predictions; None if one fails."""
    out: dict[str, float] = {}
    for split in ("val", "test"):
        try:
            pred = run.prediction_set(cell_id, split)
        except HarnessError:
            continue
        for name, options in families.items():
            try:
                values = registries["metrics"].get(name)(pred, **options)
            except Exception as exc:  # noqa: BLE001 - a broken metric leaves the cell as it was
                if echo:
                    echo(f"metrics {cell_id}: {name} failed on the stored {split} predictions: {exc!r}")
                return None
            out.update({f"{split}.{k}": float(v) for k, v in values.items()})
    return out


def apply_metric_options(run_root: Path, cells: list[Cell], registries: dict[str, Any],
                         options: Mapping[str, Mapping[str, Any]] | None, *, echo: Echo | None = None) -> list[str]:
    """Recompute the metric families whose ``[metrics.<family>]`` options a finished cell has not seen.

    A cell computes its metrics with each family's defaults while it trains; options are
    evaluation settings outside the cell key, so they are applied here, from the stored
    val and test predictions (and maps), and the family's keys in ``metrics.json`` are
    replaced. ``metric_options.json`` records what was applied, so a rerun with the same
    options reads nothing again and removing them restores the defaults' values.

    Returns:
        The ids of the cells whose ``metrics.json`` changed.
    """
    from harness.store import atomic_write_json, load_run

    wanted = {e.name: dict((options or {}).get(e.name) or {}) for e in registries["metrics"] if e.check is not None}
    run = None
    updated = []
    for cell in cells:
        cell_dir = Path(run_root) / cell.id
        if not any(wanted.values()) and not (cell_dir / OPTIONS_APPLIED).exists():
            continue  # computed with the defaults, and the defaults are asked for: nothing to read
        record = read_cell(cell_dir)
        if record.status != "done" or "model" not in record.config:
            continue
        applied = _applied_options(cell_dir)
        changed = {name: opts for name, opts in wanted.items() if (applied.get(name) or {}) != opts}
        if not changed:
            continue
        run = run or load_run(run_root)
        values = _recomputed(run, cell.id, changed, registries, echo)
        if values is None:
            continue
        atomic_write_json(cell_dir / "metrics.json", {**record.metrics, **values})
        atomic_write_json(cell_dir / OPTIONS_APPLIED, {name: opts for name, opts in wanted.items() if opts})
        updated.append(cell.id)
        if echo:
            echo(f"metrics {cell.id}: {', '.join(changed)} recomputed from the stored predictions with "
                 + "; ".join(f"{n} {opts or 'defaults'}" for n, opts in changed.items()))
    return updated

"""Settings applied after training, computed for cells that finished before they were set.

``[tta]``, ``[[ensemble]]`` and metrics are not part of the cell key: adding them to a
finished experiment must not retrain anything. Ensembles and metrics already work from
the stored predictions; TTA needs each view's predictions, which a cell stores only when
``[tta]`` was set while it trained. :func:`backfill_tta` computes the missing ones from
the cell's stored checkpoint, exactly as training would have (same weights, same
evaluation preprocessing, same batched views), and writes ``tta_<split>.npz``.
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

"""Per-sample metadata in the run store: ``meta_<split>.csv`` beside the predictions.

Dataset plugins attach metadata to samples (defect type, category, texture, CSV
columns); the cell stores it once per split so the leaderboard can score slices of the
test set without loading the data again. Values are written as text; nested values
(lists, tables) as JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.store import atomic_write_text

Meta = dict[str, dict[str, str]]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def write_sample_meta(cell_dir: Path, split: str, sample_ids: Iterable[str], meta: Iterable[dict[str, Any]] | None) -> None:
    """Store ``meta_<split>.csv`` (``sample_id`` and one column per field); nothing without metadata."""
    if meta is None:
        return
    rows = list(zip(sample_ids, meta))
    fields = sorted({k for _, m in rows for k in m if k != "sample_id"})
    if not fields:
        return
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["sample_id", *fields])
    for sid, m in rows:
        writer.writerow([sid, *(_text(m.get(f)) for f in fields)])
    atomic_write_text(Path(cell_dir) / f"meta_{split}.csv", buf.getvalue())


def read_sample_meta(cell_dirs: Iterable[Path], split: str) -> Meta:
    """Sample id to field to value, merged over the cells that stored metadata."""
    out: Meta = {}
    for cell_dir in cell_dirs:
        path = Path(cell_dir) / f"meta_{split}.csv"
        if not path.exists():
            continue
        with path.open(encoding="utf-8", newline="") as f:
            for line in csv.DictReader(f):
                sid = line.pop("sample_id")
                out.setdefault(sid, {}).update({k: v for k, v in line.items() if v != ""})
    return out

"""Skipping an unchanged leaderboard: a stamp of everything the pages are drawn from.

The stamp hashes the size and modification time of every file in the folders of the
ranked cells (their configs, metrics, predictions, maps, status), the run's ``run.json``,
the leaderboard settings, the installed plugin versions, and the code and templates that
draw the pages. ``stamp.json`` in the leaderboard folder records it, with the terminal
table of that build, after every other file was written. When a rerun finds the same
stamp and every file still in place, nothing is drawn again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.store import atomic_write_json

STAMP_FILE = "stamp.json"
PAGE_FILES = ("index.html", "results.json", "results.csv")
_CODE = Path(__file__).resolve().parent  # harness/leaderboard
_TEMPLATES = _CODE.parent / "templates"


@dataclass(frozen=True)
class Unchanged:
    """A leaderboard left as it was: its folder and the terminal table of the build that wrote it."""

    out_dir: Path
    text: str


def _files(folder: Path) -> list[tuple[str, int, int]]:
    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith(".tmp"):
            info = path.stat()
            out.append((str(path.relative_to(folder)), info.st_size, info.st_mtime_ns))
    return out


def inputs_stamp(run_root: Path, cell_ids: Iterable[str], settings: dict[str, Any]) -> str:
    """A hash of the leaderboard's inputs.

    Args:
        run_root: the experiment's run folder.
        cell_ids: the folders the leaderboard ranks (cells and derived rows).
        settings: everything else the pages depend on (rank metric, title, plugin
            versions, ...), JSON-serialisable.
    """
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    run_json = run_root / "run.json"
    if run_json.exists():
        h.update(run_json.read_bytes())
    for cell_id in sorted(set(cell_ids)):
        h.update(f"\0{cell_id}".encode())
        folder = run_root / cell_id
        if folder.is_dir():
            h.update(json.dumps(_files(folder)).encode())
    for folder in (_CODE, _TEMPLATES):  # a new version of the page code draws the pages again
        h.update(json.dumps([f for f in _files(folder) if not f[0].endswith(".pyc")]).encode())
    return h.hexdigest()


def unchanged(out_dir: Path, stamp: str) -> Unchanged | None:
    """The recorded build when ``out_dir`` holds one with this stamp and all its files."""
    try:
        record = json.loads((Path(out_dir) / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("stamp") != stamp or not isinstance(record.get("terminal"), str):
        return None
    if not all((Path(out_dir) / name).exists() for name in PAGE_FILES):
        return None
    return Unchanged(Path(out_dir), record["terminal"])


def write_stamp(out_dir: Path, stamp: str, terminal: str) -> None:
    """Record a finished build (call after every page file was written)."""
    atomic_write_json(Path(out_dir) / STAMP_FILE, {"stamp": stamp, "terminal": terminal})


def recorded_table(out_dir: Path) -> str | None:
    """The terminal table of the build that last wrote ``out_dir`` (None without one)."""
    try:
        record = json.loads((Path(out_dir) / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return None
    text = record.get("terminal") if isinstance(record, dict) else None
    return text if isinstance(text, str) else None

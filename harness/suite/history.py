"""Each experiment's history of compared runs: ``harness compare`` results kept beside the leaderboard.

When the compared side B is a leaderboard folder, the comparison is written to
``B/history/<UTC time>-vs-<A's name>.json`` (the same numbers ``harness compare``
prints), so the suite page can show how an experiment moved from run to run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

HISTORY = "history"


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def record_comparison(comparison: Any, a: Path, b: Path, *, now: dt.datetime | None = None) -> Path | None:
    """Keep ``comparison`` in ``b/history/`` when ``b`` is a leaderboard folder; its path, else None."""
    from harness.store import atomic_write_json

    b = Path(b)
    if not (b / "results.json").is_file():
        return None
    now = now or dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(a).resolve().name or "a")
    path = b / HISTORY / f"{stamp}-vs-{name}.json"
    entry = {"when": now.isoformat(timespec="seconds"), "a": str(a), "b": str(b),
             "comparison": _clean(dataclasses.asdict(comparison))}
    atomic_write_json(path, entry)
    return path


def read_history(folder: Path) -> list[dict[str, Any]]:
    """Every kept comparison of a leaderboard folder, oldest first (unreadable files skipped)."""
    out = []
    for path in sorted((Path(folder) / HISTORY).glob("*.json")):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        comparison = entry.get("comparison") or {}
        worse = sum(1 for r in comparison.get("rows", []) for d in r.get("deltas", []) if d.get("verdict") == "worse")
        better = sum(1 for r in comparison.get("rows", []) for d in r.get("deltas", []) if d.get("verdict") == "better")
        out.append({"file": f"{HISTORY}/{path.name}", "when": entry.get("when"), "a": entry.get("a"),
                    "rows": len(comparison.get("rows", [])), "new": len(comparison.get("new", [])),
                    "missing": len(comparison.get("missing", [])), "better": better, "worse": worse})
    return out

"""``harness status``: what every cell of a matrix is doing, from the run store and the leases."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.execution.claims import Claims, worker_name
from harness.store import RESUME, read_cell

if TYPE_CHECKING:
    from harness.matrix import Cell

STATES = ("done", "running", "stalled", "failed", "to do")


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def cell_states(root: Path, cells: list[Cell], lease_seconds: float = 60.0) -> list[dict[str, str]]:
    """One row per cell: ``cell``, ``state`` (one of :data:`STATES`), ``worker``, ``since``, ``detail``."""
    claims = Claims(root, worker_name(), lease_seconds)
    rows = []
    for cell in cells:
        record = read_cell(root / cell.id)
        lease = claims.read(cell.id)
        row = {"cell": cell.id, "state": "to do", "worker": "", "since": "", "detail": ""}
        if record.status == "done":
            row["state"] = "done"
            if lease is not None and lease.state == "done":
                row.update(worker=lease.worker, since=_when(lease.at))
        elif lease is not None and lease.state == "running":
            stalled = lease.expired(lease_seconds)
            row.update(state="stalled" if stalled else "running", worker=lease.worker, since=_when(lease.since))
            epochs = len(record.history)
            row["detail"] = f"epoch {epochs}/{cell.config['train']['epochs']}" if epochs else "starting"
            if stalled:
                row["detail"] += f"; no heartbeat for {time.time() - lease.heartbeat:.0f}s, the next worker takes it over"
        elif record.status == "failed":
            row.update(state="failed", detail=record.reason.splitlines()[0][:100] if record.reason else "")
            if lease is not None and lease.state == "failed":
                row.update(worker=lease.worker, since=_when(lease.at))
        elif (root / cell.id / RESUME).exists():
            row["detail"] = "interrupted; resumes from its last finished epoch"
        rows.append(row)
    return rows


def summary(rows: list[dict[str, str]]) -> str:
    counts = {s: sum(1 for r in rows if r["state"] == s) for s in STATES}
    return f"{len(rows)} cells: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n or s in ("done", "to do"))

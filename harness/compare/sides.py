"""One side of ``harness compare``: a leaderboard folder or a run folder, read for comparing.

A leaderboard folder is read from its ``results.json``: the rows, their seed means and
cells, the fingerprint of each row's test set, and the absolute run folder it was built
from. Per-sample predictions are then read from that run folder, if it is still there;
otherwise the side has means only and the comparison says so. A run folder
(``runs/<experiment>``) is ranked on the fly, without writing anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.leaderboard.ranking.samples import PredictionStore
from harness.stats.samples import SampleSet
from harness.store import Run, load_run


@dataclass
class SideRow:
    """One row of a side: its rank, metric means, cells and test-set fingerprint."""

    rank: int
    means: dict[str, float]
    cells: list[str]
    fingerprint: str | None = None


@dataclass
class Side:
    """What a comparison needs of one leaderboard or run.

    Attributes:
        label: the path as given, for display.
        rank_by: the side's ranking metric.
        rows: row key to :class:`SideRow`, in rank order.
        run: the run store holding the per-sample predictions, or None.
        unavailable: why per-sample predictions cannot be read (empty when they can).
    """

    label: str
    rank_by: str
    rows: dict[str, SideRow]
    run: Run | None = None
    unavailable: str = ""
    _store: PredictionStore | None = field(default=None, repr=False)

    def samples(self, row: str) -> SampleSet | None:
        """The row's test predictions, seeds stacked; None when not available.

        Raises:
            HarnessError: the row's seeds were evaluated on different samples.
        """
        if self.run is None:
            return None
        if self._store is None:
            self._store = PredictionStore(self.run)
        cells = [self.run.cells[c] for c in self.rows[row].cells if c in self.run.cells]
        return self._store.row_samples(row, cells, "test") if cells else None


def _from_results(path: Path, label: str) -> Side:
    data: dict[str, Any] = json.loads((path / "results.json").read_text(encoding="utf-8"))
    rows = {
        r["row"]: SideRow(
            rank=int(r["rank"]),
            means={m: v["mean"] for m, v in r.get("metrics", {}).items() if v.get("mean") is not None},
            cells=list(r.get("cells", [])),
            fingerprint=r.get("fingerprints", {}).get("test"),
        )
        for r in data.get("rows", [])
        if r.get("kind") != "chance"  # each leaderboard tests its rows against chance; they are not compared
    }
    side = Side(label, str(data.get("rank_by", "test.f1_macro")), rows)
    run_dir = data.get("run_dir")
    if not run_dir:
        side.unavailable = f"{label}/results.json does not record its run folder (rebuild the leaderboard)"
    elif not Path(run_dir).is_dir():
        side.unavailable = f"the run folder {run_dir} of {label} no longer exists"
    else:
        run = load_run(run_dir)
        lost = [c for r in rows.values() for c in r.cells if c not in run.cells or run.cells[c].status != "done"]
        if lost:
            side.unavailable = f"{run_dir} no longer holds the finished cells of {label} (e.g. {lost[0]})"
        else:
            side.run = run
    return side


def _from_run(path: Path, label: str, rank_by: str) -> Side:
    from harness.leaderboard.ranking.aggregate import summarise

    run = load_run(path)
    board = summarise(run, rank_by=rank_by, title=label)
    rows = {}
    for _, line in board.rows.iterrows():
        means = {m: float(line[f"{m}_mean"]) for m in board.metrics if line[f"{m}_mean"] == line[f"{m}_mean"]}
        rows[str(line["row"])] = SideRow(int(line["rank"]), means, list(board.details[line["row"]].cells))
    return Side(label, rank_by, rows, run=run)


def load_side(path: str | Path, rank_by: str | None = None) -> Side:
    """Read a leaderboard folder (with ``results.json``) or a run folder.

    Args:
        path: ``leaderboards/<experiment>`` or ``runs/<experiment>``.
        rank_by: the ranking metric of a run folder (a leaderboard knows its own);
            ``test.f1_macro`` when None.

    Raises:
        HarnessError: the path is neither.
    """
    path = Path(path)
    label = str(path)
    if (path / "results.json").is_file():
        return _from_results(path, label)
    if path.is_dir() and ((path / "run.json").is_file() or any((p / "status.json").is_file() for p in path.iterdir())):
        return _from_run(path, label, rank_by or "test.f1_macro")
    raise HarnessError(
        f"{label}: neither a leaderboard folder (no results.json) nor a run folder (no run.json or cell folders)"
    )

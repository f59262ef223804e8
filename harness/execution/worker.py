"""One worker's loop: claim a cell nobody holds, train it, release it; wait for the others.

Every backend runs this same loop (the local process, each process-pool worker, each Ray
task for its one cell), so any mix of them on one run store trains each cell once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.execution.claims import Claims, Lease
from harness.execution.settings import Execution
from harness.store import read_cell

if TYPE_CHECKING:
    from harness.config import Experiment
    from harness.matrix import Cell
    from harness.plugins import Plugins
    from harness.runner import Plan


@dataclass
class Round:
    """One ``harness run`` invocation's view of the matrix.

    Attributes:
        started: when the invocation began; a cell finished or failed after this is settled
            for it, one finished before is redone only with ``fresh``.
        board: the leaderboard folder and run metadata, when this round's workers publish.
    """

    experiment: Experiment
    plugins: Plugins
    plan: Plan
    root: Path
    fresh: bool
    started: float
    settings: Execution
    show_progress: bool
    echo: Callable[[str], None]
    board: tuple[Path, dict[str, Any]] | None = None
    cells: list[Cell] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cells = self.plan.cells + self.plan.folds
        self.index = {c.id: n for n, c in enumerate(self.cells, start=1)}

    def prefix(self, cell: Cell) -> str:
        return f"[{self.index[cell.id]}/{len(self.cells)}] {cell.id}"

    def settled(self, cell: Cell, lease: Lease | None) -> bool:
        """Nothing left to do for ``cell`` in this round."""
        if lease is not None and lease.state in ("done", "failed") and lease.at >= self.started:
            return True
        return not self.fresh and read_cell(self.root / cell.id).status == "done"


def work(r: Round, worker: str, *, elsewhere: bool = True) -> dict[str, str]:
    """Run cells until every one is settled; returns cell id -> outcome (``"done"`` / ``"failed"``)
    for the cells this worker ran.

    Args:
        elsewhere: say which worker settled the cells another one ran (off in a pool, whose
            parent prints every worker's own lines).
    """
    claims = Claims(r.root, worker, r.settings.lease_seconds)
    claims.sweep()
    progress = Progress(r, claims, worker)
    progress.say_elsewhere = elsewhere
    ran: dict[str, str] = {}
    joined: set[str] = set()
    announced: set[str] = set()
    while True:
        waiting = []
        for cell in r.cells:
            if cell.id in ran:
                continue
            lease = claims.read(cell.id)
            if r.settled(cell, lease):
                if cell.id not in announced and lease is not None and lease.at >= r.started:
                    progress.settled_elsewhere(cell, lease)
                elif cell.id not in announced:
                    r.echo(f"{r.prefix(cell)}: skipped (done)")
                announced.add(cell.id)
                continue
            mine = claims.try_claim(cell.id, settled=lambda prev, c=cell: r.settled(c, prev))
            if mine is None:
                waiting.append(cell)
                continue
            announced.add(cell.id)
            ran[cell.id] = run_claimed(r, claims, cell, mine, progress)
        waiting = [c for c in waiting if not r.settled(c, claims.read(c.id))]  # settled during this pass
        if not waiting:
            return ran
        helpable = [c for c in waiting if "tune" in c.config and c.id not in joined]
        if helpable:  # a study takes any number of workers: help instead of idling
            cell = helpable[0]
            joined.add(cell.id)
            progress.joining(cell, claims.read(cell.id))
            _run_cell(r, cell, join=True)
            continue
        for cell in waiting:
            if cell.id not in announced:
                announced.add(cell.id)
                progress.held(cell, claims.read(cell.id))
        time.sleep(r.settings.poll_seconds)


def run_claimed(r: Round, claims: Claims, cell: Cell, lease: Lease, progress: Progress) -> str:
    """Train a cell this worker holds, with ``retries`` further attempts, then release it."""
    progress.start(cell, lease)
    started = time.time()
    outcome = "interrupted"
    try:
        for attempt in range(r.settings.retries + 1):
            if attempt:
                r.echo(f"{r.prefix(cell)}: attempt {attempt + 1} of {r.settings.retries + 1}")
            _run_cell(r, cell, first=attempt == 0)
            outcome = read_cell(r.root / cell.id).status
            if outcome == "done":
                break
        if outcome != "done":
            outcome = "failed"
    finally:
        claims.release(cell.id, outcome)  # "interrupted" frees the cell for another worker at once
    progress.finish(cell, outcome, time.time() - started)
    return outcome


def _run_cell(r: Round, cell: Cell, *, join: bool = False, first: bool = True) -> None:
    from harness.runner import _run_one

    if first and not join and read_cell(r.root / cell.id).status == "failed":
        r.echo(f"{r.prefix(cell)}: failed before, running again")
    data = r.plan.datasets[r.plan.dataset_of[cell.id]]
    _run_one(cell, data, r.plugins, r.root / cell.id, r.experiment.select_by, r.show_progress, r.prefix(cell),
             r.echo, r.experiment.tta, **({"join": True} if join else {}))


class Progress:
    """Start/finish lines naming the worker, a bar over the matrix, and an ETA from finished cells.

    Silent unless the run asked for an execution mode, so the classic output stays as it was.
    """

    def __init__(self, r: Round, claims: Claims, worker: str):
        self.r, self.claims, self.worker = r, claims, worker
        self.on = r.settings.announce
        self.say_finish = True
        self.say_elsewhere = True

    def _say(self, cell: Cell, text: str) -> None:
        if self.on:
            self.r.echo(f"{self.r.prefix(cell)}: {text}")

    def start(self, cell: Cell, lease: Lease) -> None:
        took = f" (taking over from {lease.took_over})" if lease.took_over else ""
        self._say(cell, f"started on {self.worker}{took}")

    def joining(self, cell: Cell, lease: Lease | None) -> None:
        holder = lease.worker if lease is not None else "another worker"
        self._say(cell, f"{self.worker} joins the study {holder} runs")

    def held(self, cell: Cell, lease: Lease | None) -> None:
        if lease is not None:
            since = time.strftime("%H:%M:%S", time.localtime(lease.since))
            self._say(cell, f"running on {lease.worker} since {since}; {self.worker} waits")

    def settled_elsewhere(self, cell: Cell, lease: Lease) -> None:
        if self.say_elsewhere:
            self._say(cell, f"{lease.state} on {lease.worker}")

    def finish(self, cell: Cell, outcome: str, seconds: float) -> None:
        if self.say_finish:
            self._say(cell, f"{outcome} on {self.worker} in {seconds:.1f}s  {self.bar()}")

    def bar(self, width: int = 20) -> str:
        """``[#####.....] 4/8 cells, ETA 1m05s`` from the records of this round."""
        records = self.claims.all()
        total = len(self.r.cells)
        settled = sum(1 for c in self.r.cells if self.r.settled(c, records.get(c.id)))
        ran = [x for x in records.values() if x.state in ("done", "failed") and x.since >= self.r.started]
        running = sum(1 for x in records.values() if x.state == "running" and not x.expired(self.claims.lease_seconds))
        filled = round(width * settled / total) if total else width
        text = f"[{'#' * filled}{'.' * (width - filled)}] {settled}/{total} cells"
        left = total - settled
        if left and ran:
            per_cell = sum(x.at - x.since for x in ran) / len(ran)
            text += f", ETA {_duration(per_cell * left / max(running, 1))}"
        return text


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


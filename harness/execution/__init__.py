"""Executing a matrix: cells claimed with leases by local, pooled or Ray workers.

``execute`` runs the cells of a plan on the backend the settings name; every backend goes
through the same :mod:`harness.execution.claims`, so ``harness run`` processes of any
backend, on one machine or several sharing the run store, split a matrix cell by cell.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.execution.claims import CLAIMS, Claims, worker_name
from harness.execution.settings import BACKENDS, Execution, resolve
from harness.execution.worker import Round, work
from harness.store import STATUS, atomic_write_json

if TYPE_CHECKING:
    from harness.config import Experiment
    from harness.plugins import Plugins
    from harness.runner import Plan

__all__ = ["BACKENDS", "Execution", "execute", "publish_once", "resolve", "settings_of"]


def settings_of(experiment: Experiment) -> Execution:
    """The experiment's ``[execution]`` resolved without command-line overrides."""
    return resolve(getattr(experiment, "execution", None), device=str(experiment.train.get("device", "cpu")))


def execute(experiment: Experiment, plugins: Plugins, the_plan: Plan, root: Path, *, fresh: bool,
            show_progress: bool, echo: Callable[[str], None], settings: Execution | None = None,
            started: float | None = None, board: tuple[Path, dict[str, Any]] | None = None) -> dict[str, str]:
    """Run the plan's cells that are not settled; returns cell id -> outcome for cells run here.

    Args:
        board: the leaderboard folder and the run's metadata, for backends whose workers
            publish the leaderboard themselves (the process pool).
    """
    settings = settings or settings_of(experiment)
    r = Round(experiment, plugins, the_plan, Path(root), fresh, time.time() if started is None else started,
              settings, show_progress, echo, board=board)
    if settings.backend == "process":
        from harness.execution.pool import run_pool

        return run_pool(r)
    if settings.backend == "ray":
        from harness.execution.ray_tasks import run_on_ray

        return run_on_ray(r)
    if settings.threads_per_worker is not None:
        import torch

        torch.set_num_threads(settings.threads_per_worker)
    return work(r, worker_name())


def _signature(root: Path, cell_ids: list[str]) -> str:
    """Changes whenever a cell's outcome does (a worker that helped a study rewrites the same one)."""
    parts = []
    for cell_id in sorted(cell_ids):
        try:
            parts.append((cell_id, json.loads((root / cell_id / STATUS).read_text(encoding="utf-8")).get("status")))
        except (OSError, ValueError, AttributeError):
            parts.append((cell_id, None))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def publish_once(root: Path, cell_ids: list[str], started: float, build: Callable[[], Any],
                 worker: str | None = None) -> tuple[Any, str]:
    """Publish the leaderboard unless another worker of this round already published these results.

    Every worker finishes when the last cell settles, so several may get here together; the
    run lock lets one build the leaderboard and the others see it is current.

    Args:
        worker: this worker's name (default: ``host:pid``).

    Returns:
        ``(board, "")`` when this worker published, else ``(None, name of the worker that did)``.
    """
    root = Path(root)
    claims = Claims(root, worker or worker_name())
    marker = root / CLAIMS / "published.json"
    with claims.run_lock(timeout=-1):  # another worker drawing a large leaderboard: wait for it
        signature = _signature(root, cell_ids)
        try:
            previous = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}
        if previous.get("signature") == signature and float(previous.get("at", 0)) >= started:
            return None, str(previous.get("worker", "another worker"))
        board = build()
        atomic_write_json(marker, {"signature": signature, "at": time.time(), "worker": claims.worker})
    return board, ""
